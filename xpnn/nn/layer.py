"""The differentiable contract every layer follows, and the bookkeeping all layers share.

``out, backward = layer.forward(x, training=True)``; ``dx = backward(dout)`` returns dL/dx and
ADDS dL/dparam into each ``Parameter.grad``. The closure holds what backward needs, so a layer
used twice, or two forwards before one backward, just work; the layer itself caches nothing.

When x is the data nobody needs dL/dx, and for a first Dense layer it is a whole matmul. A
closure marked ``@can_skip_input_grad`` also accepts ``backward(dout, input_grad=False)``: it
then only adds the parameter gradients and returns None. A caller that knows its input is
data calls ``backward_for_parameters(backward, dout)``, which works for any closure.

Every layer can also describe itself: ``get_config()`` returns its constructor arguments
(plain JSON values; nested layers through ``layer_config``), and ``layer_from_config`` builds
it again. Saved models are that config plus the arrays of ``named_state()``; nothing in a file
is ever executed.
"""

from __future__ import annotations

import math

from ..backend import asarray_like, dtype_is, dtype_name, namespace_of, resolve_dtype, to_numpy
from ..utils.registry import Registry
from .parameter import Buffer, Parameter

LAYERS = Registry("layer")  # every Layer subclass, by class key: what model files may name


class Layer:
    """Base class: subclasses implement ``forward``; parameters, buffers and sub-layers are
    found among the instance attributes, in the order they were assigned."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        LAYERS.add_class(cls)

    #: the smallest batch ``forward(x, training=True)`` accepts (BatchNorm needs 2 to estimate a
    #: variance); ``fit`` refuses a batch_size that would leave a smaller last batch
    min_training_batch = 1

    def forward(self, x, training: bool = True):
        raise NotImplementedError(f"{type(self).__name__} must implement forward(x, training)")

    def __call__(self, x):
        """Inference: the output alone, nothing kept for a backward pass."""
        out = self.forward(x, training=False)[0]
        if self._forward_hooks:
            self.run_forward_hooks(x, out, False)
        return out

    # -- forward hooks (PyTorch's register_forward_hook): for observers such as the training
    # monitor, which must see every layer's output without changing the model
    _forward_hooks = None  # {key: hook}; an instance gets its own dict only while it has hooks

    def register_forward_hook(self, hook) -> "RemovableHandle":
        """Call ``hook(layer, x, out, training)`` after each forward of this layer: when it
        runs as an item of a ``Sequential`` (a Model's layers), in training or inference, and
        on ``layer(x)``. The hook observes: its return value is ignored. Returns a handle whose
        ``remove()`` takes the hook off again (the layer is then as before: no attribute is
        left behind). Raises TypeError when ``hook`` is not callable."""
        if not callable(hook):
            raise TypeError(f"{type(self).__name__}.register_forward_hook: hook must be callable, "
                            f"got {type(hook).__name__}")
        hooks = self.__dict__.setdefault("_forward_hooks", {})
        key = object()
        hooks[key] = hook
        return RemovableHandle(self, key)

    def __getstate__(self) -> dict:
        """Pickled and copied without forward hooks: they belong to whoever observes this
        layer (a copy would report to it too, and closures do not pickle)."""
        state = dict(self.__dict__)
        state.pop("_forward_hooks", None)
        return state

    def run_forward_hooks(self, x, out, training: bool) -> None:
        """Call this layer's forward hooks on one forward's input and output (what a container
        does after running the layer; a no-op without hooks)."""
        for hook in list((self._forward_hooks or {}).values()):
            hook(self, x, out, training)

    # -- what a layer holds
    def _children(self):
        kinds = (Parameter, Buffer, Layer)
        for attr, value in vars(self).items():
            if isinstance(value, kinds):
                yield attr, value
            elif isinstance(value, (list, tuple)):
                for index, item in enumerate(value):
                    if isinstance(item, kinds):
                        yield f"{attr}.{index}", item

    def named_state(self) -> list[tuple[str, Parameter | Buffer]]:
        """(dotted path, Parameter or Buffer) for everything a layer holds, each once, in a
        stable order: attribute assignment order, depth first (``layers.0.weight``...)."""
        found, seen = [], set()

        def visit(node, prefix):
            for attr, child in node._children():
                if id(child) in seen:
                    continue
                seen.add(id(child))
                if isinstance(child, Layer):
                    visit(child, f"{prefix}{attr}.")
                else:
                    found.append((prefix + attr, child))

        visit(self, "")
        return found

    def walk(self):
        """This layer and every layer inside it, each once, depth first."""
        seen = set()

        def visit(node):
            if id(node) in seen:
                return
            seen.add(id(node))
            yield node
            for _, child in node._children():
                if isinstance(child, Layer):
                    yield from visit(child)

        yield from visit(self)

    def random_streams(self) -> list:
        """The random streams this layer itself draws from while training (not its
        sub-layers'): a checkpoint saves and restores their state, so a resumed run draws
        the same masks."""
        return []

    def all_random_streams(self) -> list:
        """The random streams of this layer and every layer inside it, depth first: what a
        checkpoint saves, and what must be put back or shared to draw the same masks again."""
        return [stream for layer in self.walk() for stream in layer.random_streams()]

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        return [(name, p) for name, p in self.named_state() if isinstance(p, Parameter)]

    def parameters(self) -> list[Parameter]:
        """Every Parameter of this layer and its sub-layers, each once, in a stable order."""
        return [parameter for _, parameter in self.named_parameters()]

    def zero_grad(self) -> None:
        for parameter in self.parameters():
            parameter.zero_grad()

    def freeze(self) -> "Layer":
        """Stop training this layer's parameters; gradients still flow through it."""
        for parameter in self.parameters():
            parameter.trainable = False
        return self

    def unfreeze(self) -> "Layer":
        for parameter in self.parameters():
            parameter.trainable = True
        return self

    def count_params(self) -> int:
        """The number of scalars in ``parameters()``, trainable or frozen (PyTorch's
        ``sum(p.numel())``); buffers such as BatchNorm's running statistics are not counted."""
        return sum(math.prod(p.shape) for p in self.parameters())

    def get_weights(self) -> list:
        """Host NumPy copies of every parameter and buffer, in ``named_state()`` order (for a
        layer without buffers that is ``parameters()`` order; BatchNorm's running statistics
        follow its weights, as in Keras), for ``set_weights`` on this or an equal model."""
        return [to_numpy(held.value).copy() for _, held in self.named_state()]

    def set_weights(self, weights) -> None:
        """Replace every parameter and buffer with ``weights`` (arrays of any backend, or
        nested lists, in ``get_weights()`` order), each cast to its slot's dtype on its
        backend. All are checked first: a wrong count (ValueError), shape (ValueError naming
        the entry) or a non-numeric array (TypeError) leaves the layer unchanged."""
        where = f"{type(self).__name__}.set_weights"
        named = self.named_state()
        if not isinstance(weights, (list, tuple)):
            raise TypeError(f"{where}: weights must be a list of arrays (as get_weights() returns), "
                            f"got {type(weights).__name__}")
        if len(weights) != len(named):
            raise ValueError(f"{where}: got {len(weights)} arrays, but this model holds {len(named)}: "
                             f"{', '.join(name for name, _ in named) or 'none'}")
        moved = []
        for index, ((name, held), given) in enumerate(zip(named, weights)):
            try:
                array = asarray_like(given, like=held.value)
            except (TypeError, ValueError) as error:
                raise TypeError(f"{where}: weights[{index}] ({name}) is not a numeric array: {error}") from None
            xp = namespace_of(value=held.value)
            if not dtype_is(xp, array.dtype, ("real floating", "integral")):
                raise TypeError(f"{where}: weights[{index}] ({name}) is not a numeric array: it has dtype "
                                f"{dtype_name(array.dtype)}")
            if tuple(array.shape) != tuple(held.shape):
                raise ValueError(f"{where}: weights[{index}] ({name}) has shape {tuple(array.shape)}, "
                                 f"the model's has {tuple(held.shape)}")
            moved.append(array if array.dtype == held.value.dtype else xp.astype(array, held.value.dtype))
        for (_, held), array in zip(named, moved):
            held.value = array
            if isinstance(held, Parameter):
                held.grad = None

    def astype(self, dtype) -> "Layer":
        """Cast every parameter and buffer to ``dtype`` in its own backend (e.g. float64 for
        gradchecks); gradients are cleared."""
        for _, held in self.named_state():
            xp = namespace_of(value=held.value)
            held.value = xp.astype(held.value, resolve_dtype(xp, dtype))
            if isinstance(held, Parameter):
                held.grad = None
        return self

    # -- describing itself
    def get_config(self) -> dict:
        """Constructor arguments as plain JSON values; layers without one cannot be saved."""
        raise NotImplementedError(
            f"{type(self).__name__} does not define get_config(), so it cannot be saved; "
            "return its constructor arguments as a dict"
        )

    @classmethod
    def from_config(cls, config: dict) -> "Layer":
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class RemovableHandle:
    """What ``register_forward_hook`` returns: ``remove()`` takes the hook off (again: no-op)."""

    def __init__(self, layer: Layer, key):
        self._layer, self._key = layer, key

    def remove(self) -> None:
        hooks = self._layer.__dict__.get("_forward_hooks")
        if hooks is not None:
            hooks.pop(self._key, None)
            if not hooks:
                del self._layer.__dict__["_forward_hooks"]


def can_skip_input_grad(backward):
    """Mark a backward closure that accepts ``input_grad=False`` (see the module docstring)."""
    backward.can_skip_input_grad = True
    return backward


def backward_for_parameters(backward, dout) -> None:
    """Run a backward closure for the parameter gradients alone, leaving out dL/dx where the
    closure can: for a layer whose input is the data."""
    if getattr(backward, "can_skip_input_grad", False):
        backward(dout, input_grad=False)
    else:
        backward(dout)


def layer_config(layer: Layer) -> dict:
    """``{"class": name, "config": {...}}``, the JSON form of a layer."""
    return LAYERS.config_of(layer)


def layer_from_config(spec: dict) -> Layer:
    """Build a layer from ``layer_config`` output; only known Layer classes are ever built."""
    return LAYERS.from_config(spec)