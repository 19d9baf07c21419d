"""What a training run logged: loss and metrics per epoch, gradient norms per layer."""

from __future__ import annotations

import math
import numbers

from ._figure import check_path, finish, grid, new_figure, whole_epochs

_VALIDATION = "val_"
_NO_MONITOR = "pass callbacks=[xpnn.TrainingMonitor()] to fit to record them"


def history(history, *, path=None):
    """Loss and each metric per epoch: one axes per quantity, training as a solid line and
    validation (the ``val_`` entry) as a dashed one; ``history.stop_reason``, when training
    stopped early, is the figure's title.

    ``history``: the ``xpnn.History`` that ``fit`` returns, or its ``.history`` dict
    (``{"loss": [...], "val_loss": [...], "accuracy": [...]}``, one float per epoch). Epochs
    are counted from 1, as ``fit`` prints them. A non-finite value (a diverged run) leaves a gap.

    Returns a matplotlib Figure; ``path`` saves it as a PNG. Raises TypeError for anything
    else, ValueError for a history without epochs or with lists of unequal lengths.
    """
    where = "xpnn.plot.history"
    path = check_path(path, where)
    logs, epochs, stop_reason = _logs(history, where)
    quantities = [key for key in logs if not key.startswith(_VALIDATION)]
    # a validation value with no training twin still gets its axes
    quantities += [key for key in logs if key.startswith(_VALIDATION) and key[len(_VALIDATION):] not in logs]
    rows, columns = grid(len(quantities), 3)
    figure = new_figure(4.2 * columns, 3.3 * rows)
    axes_grid = figure.subplots(rows, columns, squeeze=False)
    for index, key in enumerate(quantities):
        axes = axes_grid[index // columns][index % columns]
        name = key[len(_VALIDATION):] if key.startswith(_VALIDATION) else key  # a validation-only value
        if name in logs:
            axes.plot(epochs, logs[name], "-", marker=".", label="training")
        if _VALIDATION + name in logs:
            axes.plot(epochs, logs[_VALIDATION + name], "--", marker=".", label="validation")
        axes.set(title=name, xlabel="epoch", ylabel=name)
        whole_epochs(axes)
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize="small")
    for index in range(len(quantities), rows * columns):  # the grid's empty cells
        axes_grid[index // columns][index % columns].set_axis_off()
    if stop_reason:
        figure.suptitle(stop_reason, fontsize="medium")
    return finish(figure, path)


def _logs(history, where):
    """({key: list of floats}, epochs counted from 1, stop_reason) of a History or its dict."""
    if isinstance(history, dict):
        logs, epochs, stop_reason = history, None, None
    elif isinstance(getattr(history, "history", None), dict):
        logs, epochs, stop_reason = history.history, getattr(history, "epoch", None), getattr(history, "stop_reason", None)
    else:
        raise TypeError(f"{where}: history must be an xpnn History (what fit returns) or its .history dict, "
                        f"got {type(history).__name__}")
    lengths = {}
    for key, values in logs.items():
        if not isinstance(key, str) or not isinstance(values, (list, tuple)) or not all(
                isinstance(value, numbers.Real) for value in values):
            raise TypeError(f"{where}: history[{key!r}] must be a list of numbers (one per epoch), got "
                            f"{values!r:.60}")
        lengths[key] = len(values)
    count = max(lengths.values(), default=0)
    if count == 0:
        raise ValueError(f"{where}: history has no epochs to draw (fit with epochs >= 1 first)")
    uneven = {key: n for key, n in lengths.items() if n != count}
    if uneven:
        raise ValueError(f"{where}: history's lists must have one value per epoch ({count}), but "
                         + ", ".join(f"{key!r} has {n}" for key, n in uneven.items()))
    if not epochs or len(epochs) != count:  # 0-based as in History.epoch; drawn as fit prints them
        epochs = range(count)
    return {key: [float(value) for value in values] for key, values in logs.items()}, \
        [epoch + 1 for epoch in epochs], stop_reason


def gradient_flow(history, *, path=None):
    """Per-layer gradient norms, log scale: over the epochs (left, one line per layer), and
    across the layers at the first and last epoch (right): in a network with vanishing
    gradients the norms fall by orders of magnitude from the output layer back to the first.

    ``history``: the ``xpnn.History`` of a ``fit`` run with ``callbacks=[xpnn.TrainingMonitor()]``,
    or its ``history.diagnostics`` dict: ``{"layers": [description per layer], "epoch": [0,
    1, ...], "grad_norm": [[one float per layer] per epoch], ...}``. A layer whose norm is
    NaN on every epoch (the statistic does not apply: no parameters) has no line; a NaN, inf,
    or zero norm (nothing to place on a log axis) leaves a gap.

    Returns a matplotlib Figure of 2 axes; ``path`` saves it as a PNG. Raises ValueError when
    no monitor ran (empty diagnostics) or the lists do not match, TypeError for anything else.
    """
    where = "xpnn.plot.gradient_flow"
    path = check_path(path, where)
    layers, epochs, norms = _gradient_norms(history, where)
    figure = new_figure(11, 4.2)
    over_epochs, across_layers = figure.subplots(1, 2)
    drawn = [index for index in range(len(layers)) if any(math.isfinite(row[index]) for row in norms)]
    if not drawn:
        raise ValueError(f"{where}: no layer has a gradient norm (all NaN): the model has no trainable parameters?")
    for index in drawn:
        over_epochs.plot(epochs, [_positive(row[index]) for row in norms], marker=".", label=f"{index}: {layers[index]}")
    over_epochs.set(title="gradient norm per layer", xlabel="epoch", ylabel="gradient norm (L2)", yscale="log")
    whole_epochs(over_epochs)
    positions = list(range(len(layers)))
    for row, epoch, style in ((norms[0], epochs[0], "--"), (norms[-1], epochs[-1], "-")):
        across_layers.plot(positions, [_positive(value) for value in row], style, marker="o", label=f"epoch {epoch}")
    across_layers.set(title="gradient norm across the layers", xlabel="layer (input side first)",
                      ylabel="gradient norm (L2)", yscale="log", xticks=positions)
    for axes in (over_epochs, across_layers):
        axes.grid(True, alpha=0.3)
    # the layers' legend beside the figure: with many layers it would hide the lines
    figure.legend(handles=over_epochs.lines, loc="outside right upper", fontsize="small", title="layer")
    across_layers.legend(fontsize="small")
    return finish(figure, path)


def _positive(value: float) -> float:
    """NaN (a gap) for what a log axis cannot place: zero, negative, inf."""
    return value if math.isfinite(value) and value > 0 else math.nan


def _gradient_norms(history, where):
    """(layer descriptions, epochs from 1, [[norm per layer] per epoch]) from the diagnostics."""
    if isinstance(history, dict) and ("grad_norm" in history or "layers" in history or not history):
        diagnostics = history
    elif isinstance(getattr(history, "history", None), dict):  # a History
        diagnostics = getattr(history, "diagnostics", None) or {}
    else:
        raise TypeError(f"{where}: history must be an xpnn History (what fit returns) or its .diagnostics dict, "
                        f"got {type(history).__name__}")
    if not isinstance(diagnostics, dict):
        raise TypeError(f"{where}: history.diagnostics must be a dict, got {type(diagnostics).__name__}")
    if not diagnostics:
        raise ValueError(f"{where}: the history holds no diagnostics (no gradient norms were recorded): {_NO_MONITOR}")
    missing = [key for key in ("layers", "grad_norm") if key not in diagnostics]
    if missing:
        raise ValueError(f"{where}: history.diagnostics has no {missing[0]!r} entry; it holds "
                         f"{', '.join(map(repr, diagnostics))}")
    layers, norms = diagnostics["layers"], diagnostics["grad_norm"]
    if not isinstance(layers, (list, tuple)) or not layers:
        raise ValueError(f"{where}: history.diagnostics['layers'] must be a non-empty list of layer descriptions, "
                         f"got {layers!r:.60}")
    if not isinstance(norms, (list, tuple)) or not norms:
        raise ValueError(f"{where}: history.diagnostics['grad_norm'] holds no epochs: {_NO_MONITOR}")
    for epoch, row in enumerate(norms):
        if not isinstance(row, (list, tuple)) or len(row) != len(layers) or not all(
                isinstance(value, numbers.Real) for value in row):
            raise ValueError(f"{where}: history.diagnostics['grad_norm'][{epoch}] must be {len(layers)} numbers, "
                             f"one per layer, got {row!r:.80}")
    epochs = diagnostics.get("epoch")
    if not isinstance(epochs, (list, tuple)) or len(epochs) != len(norms):
        epochs = range(len(norms))
    return [str(layer) for layer in layers], [int(epoch) + 1 for epoch in epochs], \
        [[float(value) for value in row] for row in norms]
