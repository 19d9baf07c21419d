"""What a model does: its layers' outputs, its decision regions, its architecture."""

from __future__ import annotations

import math

from ..backend import asarray_like, dtype_name, host_namespace, is_array, namespace_of, to_numpy
from ..nn.activations import Activation, sigmoid
from ..nn.layer import Layer
from ..training import data, diagnostics
from ..utils.validation import check_int
from ._figure import check_path, finish, grid, new_figure

_MAX_CLASSES = 1000  # a label of 10**9 would ask for as many contour levels


def activation_histograms(model, X, *, bins: int = 50, path=None):
    """The distribution of each top-level layer's outputs for the batch ``X``: one histogram
    per layer, titled with its index and description (``xpnn.diagnostics.layer_descriptions``)
    and the mean and standard deviation of its outputs. Healthy layers keep a spread; a
    collapse to 0 (zero or tiny initial weights), a pile-up at 0 and 1 (saturated sigmoids) or
    at exactly 0 (dead ReLUs) shows at a glance.

    ``model``: an xpnn Model, Sequential or Layer; ``X``: (samples, features) or (samples, ...),
    any backend (``xpnn.diagnostics.activations`` runs it in inference mode and leaves the model
    as it was); ``bins``: bars per histogram. Non-finite outputs are left out (the title counts
    them).

    Returns a matplotlib Figure with one axes per layer; ``path`` saves it as a PNG. Raises what
    ``xpnn.diagnostics.activations`` raises for the model and X (TypeError, ValueError naming
    them), ValueError for ``bins`` < 1 or a model without layers.
    """
    where = "xpnn.plot.activation_histograms"
    path = check_path(path, where)
    bins = check_int(bins, "bins", where, minimum=1)
    outputs = diagnostics.activations(model, X)
    names = diagnostics.layer_descriptions(model)
    if not outputs:
        raise ValueError(f"{where}: the model has no layers: nothing to draw")
    rows, columns = grid(len(outputs), 4)
    figure = new_figure(3.4 * columns, 2.8 * rows)
    axes_grid = figure.subplots(rows, columns, squeeze=False)
    for index, (name, output) in enumerate(zip(names, outputs)):
        values = to_numpy(output).reshape(-1)
        finite = values[abs(values) < math.inf]  # NaN compares false too
        axes = axes_grid[index // columns][index % columns]
        title = f"{index}: {name}"
        if finite.size:
            axes.hist(finite, bins=bins, color=f"C{index % 10}")
            title += f"\nmean {finite.mean():.3g}, std {finite.std():.3g}"
        if finite.size < values.size:
            title += f"\n{values.size - finite.size} non-finite values left out"
        axes.set_title(title, fontsize="small")
        axes.set(xlabel="output", ylabel="count")
    for index in range(len(outputs), rows * columns):
        axes_grid[index // columns][index % columns].set_axis_off()
    return finish(figure, path)


def decision_boundary(model, X, y, *, resolution: int = 200, margin: float = 0.1, path=None):
    """The class ``model`` predicts over the plane of 2-D data, as filled regions, with the
    samples ``X`` drawn on top in the colour of their label ``y`` (one legend entry per class).

    The predicted class is the argmax of the outputs when there are several, and for a single
    output the side of the threshold: 0.5 when the model ends in a sigmoid (a probability),
    0 otherwise (a logit, as ``BinaryCrossEntropy`` trains it).

    ``X``: (samples, 2), any backend; ``y``: (samples,) whole-number class labels 0, 1, ...
    (or (samples, 1)); ``resolution``: grid points along each axis; ``margin``: the fraction of
    the data's range added on each side.

    Returns a matplotlib Figure of 1 axes; ``path`` saves it as a PNG. Raises ValueError for X
    that is not 2-D data (its shape named), y of another length, labels that are not whole
    numbers 0..classes-1; TypeError for a model that is not an xpnn Layer, X or y not numeric.
    """
    where = "xpnn.plot.decision_boundary"
    path = check_path(path, where)
    if not isinstance(model, Layer):
        raise TypeError(f"{where}: model must be an xpnn Layer or Model, got {type(model).__name__}")
    resolution = check_int(resolution, "resolution", where, minimum=2)
    if not isinstance(margin, (int, float)) or isinstance(margin, bool) or not 0 <= margin < math.inf:
        raise ValueError(f"{where}: margin must be a finite number >= 0, got {margin!r:.40}")
    xp = host_namespace()
    points = to_numpy(X) if is_array(X) else xp.asarray(X)
    labels = to_numpy(y) if is_array(y) else xp.asarray(y)
    for arg, array in (("X", points), ("y", labels)):
        if not xp.isdtype(array.dtype, ("real floating", "integral", "bool")):
            raise TypeError(f"{where}: {arg} must be numeric, got dtype {array.dtype}")
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"{where}: X must be 2-D data of shape (samples, 2): the plane is drawn, "
                         f"got shape {tuple(points.shape)}")
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels.reshape(-1)
    if labels.ndim != 1 or labels.shape[0] != points.shape[0]:
        raise ValueError(f"{where}: y must hold one class label per sample of X, shape ({points.shape[0]},), "
                         f"got shape {tuple(labels.shape)}")
    if points.shape[0] == 0 or not bool(xp.all(xp.isfinite(xp.asarray(points, dtype=xp.float64)))):
        raise ValueError(f"{where}: X must hold at least one sample, all finite")

    label_values = labels.astype("float64")
    whole = (label_values == label_values.round()) & (label_values >= 0) & (label_values < _MAX_CLASSES)
    if not bool(whole.all()):
        raise ValueError(f"{where}: y must hold whole-number class labels 0, 1, ... (fewer than {_MAX_CLASSES}), "
                         f"got {labels[~whole][0].item()!r}")

    span = [(float(points[:, axis].min()), float(points[:, axis].max())) for axis in (0, 1)]
    span = [(low - margin * ((high - low) or 1.0), high + margin * ((high - low) or 1.0)) for low, high in span]
    grid_x, grid_y = xp.meshgrid(xp.linspace(*span[0], resolution), xp.linspace(*span[1], resolution))
    plane = xp.stack([xp.reshape(grid_x, (-1,)), xp.reshape(grid_y, (-1,))], axis=1)
    predicted = predicted_class(model, plane, where)
    classes = max(int(predicted.max()) + 1, int(label_values.max()) + 1, 2)
    colours = [f"C{k % 10}" for k in range(classes)]

    figure = new_figure(5.6, 4.8)
    axes = figure.subplots()
    axes.contourf(to_numpy(grid_x), to_numpy(grid_y), predicted.reshape(resolution, resolution),
                  levels=[k - 0.5 for k in range(classes + 1)], colors=colours, alpha=0.3)
    for k in range(classes):
        mine = label_values == k
        if bool(mine.any()):
            axes.scatter(points[mine, 0], points[mine, 1], s=18, color=colours[k], edgecolors="black",
                         linewidths=0.4, label=f"class {k}")
    axes.set(title="decision regions", xlabel="x[:, 0]", ylabel="x[:, 1]", xlim=span[0], ylim=span[1])
    axes.legend(fontsize="small")
    return finish(figure, path)


def predicted_class(model, plane, where: str = "predicted_class"):
    """The class ``model`` predicts for each row of the host array ``plane`` (samples,
    features), as host ints, by ``decision_boundary``'s rule: the argmax of several outputs; for
    one output, above 0.5 when the model ends in a sigmoid, above 0 otherwise (a logit).
    ValueError, prefixed with ``where``, when the model cannot take the rows."""
    parameters = model.parameters()
    dtype = data.model_dtype(model)
    like = parameters[0].value if parameters else None
    batch = 8192  # bounds the memory of a wide model at high resolution
    outputs = []
    for start in range(0, plane.shape[0], batch):
        chunk = plane[start:start + batch, ...]
        x = asarray_like(chunk, like) if like is not None else chunk
        xp = namespace_of(x=x)
        x = xp.astype(x, dtype if like is not None else xp.float32)
        try:
            outputs.append(to_numpy(model(x)))
        except (ValueError, TypeError) as error:
            raise ValueError(f"{where}: the model cannot take 2-D points (shape (n, 2)): {error}") from None
    host = host_namespace()
    out = host.concat(outputs, axis=0)
    if out.ndim == 1:
        out = host.reshape(out, (-1, 1))
    if out.shape[1] > 1:
        return host.argmax(out, axis=1)
    threshold = 0.5 if _ends_in_sigmoid(model) else 0.0
    return host.astype(out[:, 0] > threshold, host.int64)


def _ends_in_sigmoid(model) -> bool:
    last = diagnostics.top_level_layers(model)[-1]
    while getattr(last, "layers", None):  # a Sequential inside
        last = last.layers[-1]
    activation = last if isinstance(last, Activation) else getattr(last, "activation", None)
    return getattr(activation, "function", None) is sigmoid


def network(model, *, input_shape=None, path=None):
    """A diagram of the architecture: the input and each top-level layer as a box from left to
    right, its height growing with the square root of the layer's output size, labelled with the
    layer's class and sizes, its activation, its output shape and its parameter count; the
    model's total in the title.

    Output shapes come from one sample of zeros run through the layers in inference mode (as
    ``Model.summary`` finds them): of ``input_shape`` (one sample's shape, e.g. ``(4,)``) when
    given, else of the first layer's ``in_features``; "?" where neither is known.

    Returns a matplotlib Figure of 1 axes (its frame off); ``path`` saves it as a PNG. Raises
    TypeError for a model that is not an xpnn Layer, ValueError for a model without layers or an
    ``input_shape`` the layers cannot take.
    """
    where = "xpnn.plot.network"
    path = check_path(path, where)
    if not isinstance(model, Layer):
        raise TypeError(f"{where}: model must be an xpnn Layer or Model, got {type(model).__name__}")
    layers = diagnostics.top_level_layers(model)
    if not layers:
        raise ValueError(f"{where}: the model has no layers: nothing to draw")
    shapes = _output_shapes(model, layers, input_shape, where)
    boxes = [("input", shapes[0], None)]
    boxes += [(diagnostics.describe(layer), shape, layer.count_params()) for layer, shape in zip(layers, shapes[1:])]

    figure = new_figure(max(6.0, 1.9 * len(boxes)), 3.6)
    axes = figure.subplots()
    axes.set_axis_off()
    largest = max((math.prod(shape) for shape in shapes if shape), default=1)
    for position, (label, shape, count) in enumerate(boxes):
        width = math.prod(shape) if shape else None
        # square-root height: a 64-wide layer looks twice as tall as a 16-wide one, and a floor
        # keeps a 10-wide output visible beside a 784-wide input
        height = 0.15 + 0.85 * (math.sqrt(width / largest) if width else 0.5)
        axes.add_patch(_box(position, height, position))
        shape_text = "?" if shape is None else "(None, " + ", ".join(map(str, shape)) + ")"
        lines = [label.replace(", ", "\n"), shape_text]
        if count is not None:
            lines.append(f"{count:,} params")
        axes.text(position, -0.62, "\n".join(lines), ha="center", va="top", fontsize="small")
        if position:
            axes.annotate("", xy=(position - 0.32, 0), xytext=(position - 0.68, 0),
                          arrowprops={"arrowstyle": "->", "color": "0.3"})
    axes.set(xlim=(-0.6, len(boxes) - 0.4), ylim=(-1.3, 0.6))
    axes.set_title(f"{type(model).__name__}: {len(layers)} layers, {model.count_params():,} parameters")
    return finish(figure, path)


def _box(x, height, index):
    from matplotlib.patches import FancyBboxPatch

    return FancyBboxPatch((x - 0.3, -height / 2), 0.6, height, boxstyle="round,pad=0.02",
                          facecolor=f"C{index % 10}", alpha=0.35, edgecolor="0.2")


def _output_shapes(model, layers, input_shape, where) -> list:
    """[input shape, each layer's output shape] of one sample, as tuples, or all None."""
    if input_shape is None:
        width = data.input_width(model)
        if width is None:
            return [None] * (len(layers) + 1)
        input_shape = (width,)
    elif isinstance(input_shape, int) or not isinstance(input_shape, (tuple, list)) or not input_shape or not all(
            isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in input_shape):
        raise ValueError(f"{where}: input_shape must be the shape of one sample, a tuple of positive ints such as "
                         f"(4,), got {input_shape!r:.60}")
    parameters = model.parameters()
    dtype = data.model_dtype(model)
    host = host_namespace()
    zeros = host.zeros((1, *input_shape), dtype=getattr(host, dtype_name(dtype)))
    x = asarray_like(zeros, parameters[0].value) if parameters else zeros
    shapes = [tuple(input_shape)]
    for index, layer in enumerate(layers):
        try:
            x = layer(x)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{where}: layer {index} ({diagnostics.describe(layer)}) cannot take input of shape "
                             f"(None, {', '.join(map(str, x.shape[1:]))}): {error}") from None
        shapes.append(tuple(x.shape[1:]))
    return shapes
