"""Training health: what each layer of a model does, in numbers a person can act on.

- ``layer_descriptions(model)``: one short text per top-level layer ("Dense 32->32, sigmoid").
- ``activations(model, X)``: the output of every top-level layer for a batch, without changing
  the model (the weight-initialisation exercise plots their histograms).

The layers of a model are the items of a ``Sequential`` (or ``Model``); any other Layer is one
item. Their index is their position in the model, as ``Model.summary()`` numbers them.
"""

from __future__ import annotations

from ..nn.layer import Layer
from ..nn.layers.sequential import Sequential
from . import data

__all__ = ["activations", "layer_descriptions"]


def top_level_layers(model) -> list:
    """The items of a Sequential/Model, or ``[model]`` for any other Layer."""
    return list(model.layers) if isinstance(model, Sequential) else [model]


def _check_model(model, where: str) -> None:
    if not isinstance(model, Layer):
        raise TypeError(f"{where}: model must be an xpnn Layer or Model, got {type(model).__name__}")


def _pair(value) -> str:
    return "x".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)


def describe(layer) -> str:
    """One layer in a few words: its class, its sizes, its activation.

    "Dense 32->32, sigmoid", "Conv2D 1->8 3x3, relu", "Dropout 0.5", "MaxPool2D 2x2",
    "BatchNorm 16", "Flatten", "ReLU"; a Sequential inside a model is "Sequential (3 layers)".
    """
    name = type(layer).__name__
    if hasattr(layer, "in_channels") and hasattr(layer, "out_channels"):
        text = f"{name} {layer.in_channels}->{layer.out_channels} {_pair(layer.kernel_size)}"
    elif hasattr(layer, "in_features") and hasattr(layer, "out_features"):
        text = f"{name} {layer.in_features}->{layer.out_features}"
    elif isinstance(getattr(layer, "rate", None), float):
        text = f"{name} {layer.rate:g}"
    elif hasattr(layer, "kernel_size"):
        text = f"{name} {_pair(layer.kernel_size)}"
    elif isinstance(getattr(layer, "num_features", None), int):
        text = f"{name} {layer.num_features}"
    elif isinstance(getattr(layer, "normalized_shape", None), int):
        text = f"{name} {layer.normalized_shape}"
    elif isinstance(layer, Sequential):
        text = f"{name} ({len(layer.layers)} layers)"
    else:
        text = name
    activation = getattr(layer, "activation", None)
    function = getattr(activation, "function", None)
    if function is not None:
        text += f", {function.name}"
    return text


def layer_descriptions(model) -> list[str]:
    """One description per top-level layer of ``model`` (see ``describe``), in model order.
    Raises TypeError when ``model`` is not an xpnn Layer."""
    _check_model(model, "layer_descriptions")
    return [describe(layer) for layer in top_level_layers(model)]


def activations(model, X, *, training: bool = False) -> list:
    """The output of every top-level layer of ``model`` for the batch ``X``, in model order
    (one per ``layer_descriptions`` entry): arrays of the model's backend, each of shape
    (samples, ...) as that layer outputs it.

    - ``X``: (samples, features) or (samples, ...), an array of any backend or host data
      (NumPy array, nested lists); it is checked and moved as ``Model.predict`` moves it.
    - ``training``: run the layers in training mode (Dropout drops, BatchNorm uses the batch's
      statistics). The model is left exactly as it was either way: the running statistics
      BatchNorm updates and the random streams Dropout draws from are put back.

    Raises TypeError for a model that is not a Layer or a non-numeric X, ValueError for an X
    the model cannot take (its shape named), NaN or infinite values in X, or an empty X.
    """
    where = "activations"
    _check_model(model, where)
    if not isinstance(training, bool):
        raise TypeError(f"{where}: training must be True or False, got {type(training).__name__}")
    X = data.features(X, "X", where, data.model_dtype(model), data.input_width(model))
    data.probe_output(model, X, where)
    streams = [stream for layer in model.walk() for stream in layer.random_streams()]
    saved_streams = [stream.state_dict() for stream in streams]
    saved_state = [(held, held.value) for _, held in model.named_state()]
    outputs = []
    try:
        x = X
        for layer in top_level_layers(model):
            x = layer.forward(x, training)[0]
            outputs.append(x)
    finally:
        # layers replace their buffers' arrays rather than writing into them, so putting the
        # old arrays back undoes a training-mode forward
        for held, value in saved_state:
            held.value = value
        for stream, state in zip(streams, saved_streams):
            stream.load_state_dict(state)
    return outputs
