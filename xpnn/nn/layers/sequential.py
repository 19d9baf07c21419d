"""Layers applied one after another; backward runs their closures in reverse (the chain rule)."""

from __future__ import annotations

from ..layer import Layer, backward_for_parameters, can_skip_input_grad, layer_config, layer_from_config


# what a Keras or PyTorch user may call on a Sequential expecting a trainable model
_TRAINING_METHODS = ("fit", "predict", "evaluate", "save", "compile", "summary", "train_on_batch")


class Sequential(Layer):
    """``Sequential(layer, layer, ...)`` or ``Sequential([layer, layer, ...])`` (Keras's
    form): the layers applied in order. It has no ``fit``: ``xpnn.Model`` is the Sequential
    that trains, predicts, evaluates and saves itself."""

    def __init__(self, *layers: Layer):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for index, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"Sequential: layer {index} must be an xpnn Layer, got {type(layer).__name__}"
                )
        self.layers = list(layers)

    def forward(self, x, training: bool = True):
        backwards = []
        for layer in self.layers:
            given = x
            x, backward = layer.forward(x, training)
            backwards.append(backward)
            if layer._forward_hooks:  # an observer (diagnostics.TrainingMonitor) is attached
                layer.run_forward_hooks(given, x, training)

        @can_skip_input_grad  # by passing input_grad=False on to its first layer
        def backward(dout, input_grad=True):
            for layer_backward in reversed(backwards if input_grad else backwards[1:]):
                dout = layer_backward(dout)
            if input_grad:
                return dout
            if backwards:
                backward_for_parameters(backwards[0], dout)
            return None

        return x, backward

    def get_config(self) -> dict:
        return {"layers": [layer_config(layer) for layer in self.layers]}

    @classmethod
    def from_config(cls, config: dict) -> "Sequential":
        return cls(*(layer_from_config(spec) for spec in config.get("layers", [])))

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*self.layers[index])
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __getattr__(self, name):
        # only reached for a missing attribute: name the class that has the training methods
        if name in _TRAINING_METHODS:
            raise AttributeError(
                f"{type(self).__name__} has no {name}(): it only applies its layers in order. "
                f"Build the network as xpnn.Model(...) (the same arguments) to {name} it"
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"{type(self).__name__}({inner}\n)"
