"""The differentiable contract every layer follows, and the bookkeeping all layers share.

``out, backward = layer.forward(x, training=True)``; ``dx = backward(dout)`` returns dL/dx and
ADDS dL/dparam into each ``Parameter.grad``. The closure holds what backward needs, so a layer
used twice, or two forwards before one backward, just work; the layer itself caches nothing.
"""

from __future__ import annotations

from .backend import namespace_of, resolve_dtype
from .parameter import Parameter


class Layer:
    """Base class: subclasses implement ``forward``; parameters and sub-layers are found
    among the instance attributes, in the order they were assigned."""

    def forward(self, x, training: bool = True):
        raise NotImplementedError(f"{type(self).__name__} must implement forward(x, training)")

    def __call__(self, x):
        """Inference: the output alone, nothing kept for a backward pass."""
        return self.forward(x, training=False)[0]

    def _children(self):
        for attr, value in vars(self).items():
            if isinstance(value, (Parameter, Layer)):
                yield attr, value
            elif isinstance(value, (list, tuple)):
                for index, item in enumerate(value):
                    if isinstance(item, (Parameter, Layer)):
                        yield f"{attr}.{index}", item

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        """(dotted path, Parameter) for every parameter, each once, in a stable order:
        attribute assignment order, depth first (``layers.0.weight``, ``layers.0.bias``...)."""
        found, seen = [], set()

        def visit(node, prefix):
            for attr, child in node._children():
                if id(child) in seen:
                    continue
                seen.add(id(child))
                if isinstance(child, Parameter):
                    found.append((prefix + attr, child))
                else:
                    visit(child, f"{prefix}{attr}.")

        visit(self, "")
        return found

    def parameters(self) -> list[Parameter]:
        """Every Parameter of this layer and its sub-layers, each once, in a stable order."""
        return [parameter for _, parameter in self.named_parameters()]

    def zero_grad(self) -> None:
        for parameter in self.parameters():
            parameter.zero_grad()

    def astype(self, dtype) -> "Layer":
        """Cast every parameter to ``dtype`` in its own backend (e.g. float64 for gradchecks)."""
        for parameter in self.parameters():
            xp = namespace_of(value=parameter.value)
            parameter.value = xp.astype(parameter.value, resolve_dtype(xp, dtype))
            parameter.grad = None
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
