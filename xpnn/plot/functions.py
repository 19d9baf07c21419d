"""Activation functions and their derivatives."""

from __future__ import annotations

from ..backend import host_namespace, to_numpy
from ..nn import activations as registry
from ..nn.activations import Activation, ActivationFunction
from ..utils.validation import check_int, check_number
from ._figure import check_path, finish, new_figure

_WHERE = "xpnn.plot.activations"


def activations(names, *, z_range=(-6.0, 6.0), points: int = 601, saturation: float = 0.01, path=None):
    """Activation functions (left) and their derivatives (right), one line each, over ``z``.

    ``names``: a name of xpnn's activation registry ('relu', 'sigmoid'...; see
    ``xpnn.activations.names()``), an activation function (``xpnn.activations.gelu``), layer class
    or layer (``xpnn.LeakyReLU(alpha=0.2)``, to draw other hyper-parameters), or a list of them. ``z_range``: (low, high) of the inputs drawn;
    ``points``: how many inputs. Where an activation saturates, ``|da/dz| < saturation``, the
    derivative axes is shaded in its colour: the inputs at which backpropagation passes
    (almost) nothing back (the tails of sigmoid and tanh, the left of ReLU). The derivatives are
    xpnn's own (``ActivationFunction.vjp`` with dL/da = 1), the ones training uses.

    Returns a matplotlib Figure of 2 axes; ``path`` saves it as a PNG. Raises ValueError for
    an unknown name (the registry's message, listing the valid ones), an activation that is not
    elementwise (softmax, log_softmax) or learns its shape (prelu), an empty list, a bad range;
    TypeError for anything that is not a name or an activation layer.
    """
    path = check_path(path, _WHERE)
    layers = _layers(names)
    low, high = _range(z_range)
    points = check_int(points, "points", _WHERE, minimum=2)
    saturation = check_number(saturation, "saturation", _WHERE, low=0)
    xp = host_namespace()
    z = xp.linspace(low, high, points, dtype=xp.float64)
    curves = []
    for index, (label, layer) in enumerate(layers):
        values, slopes = _value_and_derivative(xp, layer, z, f"names[{index}]")
        curves.append((label, values, slopes))

    figure = new_figure(11, 4.2)
    value_axes, slope_axes = figure.subplots(1, 2)
    z_host = to_numpy(z)
    for label, values, slopes in curves:
        (line,) = value_axes.plot(z_host, values, label=label)
        slope_axes.plot(z_host, slopes, label=label, color=line.get_color())
        saturated = abs(slopes) < saturation
        if saturated.any():
            # a band over the whole height of the axes (x in data, y in axes units)
            slope_axes.fill_between(z_host, 0, 1, where=saturated, color=line.get_color(), alpha=0.12,
                                    transform=slope_axes.get_xaxis_transform(), linewidth=0)
    value_axes.set(title="activation", xlabel="z", ylabel="a = f(z)")
    slope_axes.set(title=f"derivative (shaded: saturated, |da/dz| < {saturation:g})", xlabel="z",
                   ylabel="da/dz")
    for axes in (value_axes, slope_axes):
        axes.axhline(0, color="0.6", linewidth=0.6, zorder=0)
        axes.axvline(0, color="0.6", linewidth=0.6, zorder=0)
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize="small")
    return finish(figure, path)


def _layers(names) -> list:
    """(label, activation layer) for each of ``names``, checked."""
    if isinstance(names, (str, Activation, ActivationFunction, type)):
        names = [names]
    if not isinstance(names, (list, tuple)):
        raise TypeError(f"{_WHERE}: names must be an activation name, an activation layer or a list of them, "
                        f"got {type(names).__name__}")
    if not names:
        raise ValueError(f"{_WHERE}: names is empty; give at least one, e.g. ['sigmoid', 'tanh', 'relu']")
    layers = []
    for index, spec in enumerate(names):
        try:
            layer = registry.get(spec)
        except (ValueError, TypeError) as error:
            raise type(error)(f"{_WHERE}: names[{index}]: {error}") from None
        if not isinstance(layer, Activation):
            raise ValueError(f"{_WHERE}: names[{index}]: {spec!r} learns its shape while training ({type(layer).__name__} "
                             "has parameters): draw the function it starts from instead (prelu: 'leaky_relu')")
        layers.append((spec if isinstance(spec, str) else repr(layer), layer))
    return layers


def _range(z_range) -> tuple[float, float]:
    if not isinstance(z_range, (list, tuple)) or len(z_range) != 2:
        raise ValueError(f"{_WHERE}: z_range must be (low, high), got {z_range!r:.60}")
    low = check_number(z_range[0], "z_range[0]", _WHERE)
    high = check_number(z_range[1], "z_range[1]", _WHERE)
    if not low < high:
        raise ValueError(f"{_WHERE}: z_range must be (low, high) with low < high, got {z_range!r}")
    return low, high


def _value_and_derivative(xp, layer, z, arg):
    """Host arrays of a(z) and da/dz; ValueError when the activation is not elementwise."""
    function, hyper = layer.function, layer.hyper
    values = function.value(xp, z, **hyper)
    # an elementwise function gives the same values whether z is one row or one column; softmax
    # (along the last axis) does not, and has no curve a(z) to draw
    column = xp.reshape(function.value(xp, xp.reshape(z, (-1, 1)), **hyper), (-1,))
    if not bool(xp.all(xp.abs(column - values) <= 1e-12 * (1.0 + xp.abs(values)))):
        raise ValueError(f"{_WHERE}: {arg}: {function.name} is not elementwise (it works along the last axis): "
                         "it has no curve a(z) to draw")
    slopes = function.backward(xp, xp.ones_like(z), z, values, hyper)
    return to_numpy(values), to_numpy(slopes)
