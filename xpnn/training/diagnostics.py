"""Training health: what each layer of a model does, in numbers a person can act on.

- ``layer_descriptions(model)``: one short text per top-level layer ("Dense 32->32, sigmoid").
- ``activations(model, X)``: the output of every top-level layer for a batch, without changing
  the model (the weight-initialisation exercise plots their histograms).
- ``TrainingMonitor``: per-layer gradient norms, update-to-weight ratios, dead and saturated
  units, activation moments, accumulated on the device and read once per epoch; a callback for
  ``fit`` that also works step by step in a hand-written loop. It warns with
  ``TrainingHealthWarning`` when a layer shows one of the troubles of the seeds' troubleshooting
  table (vanishing or exploding gradients, dying ReLUs, saturated sigmoids), with the remedy.
- ``NonFiniteGuard``: what ``fit(terminate_on_nan=True)`` (the default) runs: when an epoch ends
  with a NaN or infinite loss or weight, it finds the first step and layer where the value
  appeared, stops and puts back the weights from just before that step.

The layers of a model are the items of a ``Sequential`` (or ``Model``); any other Layer is one
item. Their index is their position in the model, as ``Model.summary()`` numbers them.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from typing import NamedTuple

from ..backend import copy_into, copy_of, namespace_of, to_numpy
from ..nn.layer import Layer, backward_for_parameters
from ..nn.layers.sequential import Sequential
from ..utils.validation import check_bool, check_int, check_number
from . import data
from .callbacks import Callback, restore_state, snapshot_state

__all__ = ["KINDS", "STATISTICS", "LayerRef", "NonFiniteGuard", "TrainingHealthWarning", "TrainingMonitor", "activations",
           "layer_descriptions"]


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
    streams = model.all_random_streams()
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


# ---------------------------------------------------------------- warnings

KINDS = ("vanishing_gradient", "exploding_gradient", "dead_units", "saturation", "non_finite")

#: the per-layer statistics a monitor records each epoch (``History.diagnostics`` keys)
STATISTICS = ("grad_norm", "grad_ratio", "update_ratio", "dead_fraction", "saturated_fraction",
              "activation_mean", "activation_std")


class LayerRef(NamedTuple):
    """Which layer a warning is about: ``index``, its position among the model's top-level
    layers (``Model.summary()`` numbering; None for the loss), and ``description``, as
    ``layer_descriptions`` gives it. A pair: ``index, description = warning.layer``."""

    index: int | None
    description: str

    def __str__(self) -> str:
        return self.description if self.index is None else f"layer {self.index} ({self.description})"


class TrainingHealthWarning(UserWarning):
    """A training problem found by ``TrainingMonitor`` or by ``fit``'s non-finite guard.

    - ``kind``: "vanishing_gradient", "exploding_gradient", "dead_units", "saturation" or
      "non_finite";
    - ``layer``: a ``LayerRef`` (index, description) of the layer concerned;
    - ``epoch``: 0-based, as ``History.epoch`` (the message counts from 1, as fit's lines do);
    - ``batch``: for "non_finite" found by fit, the 0-based step within the epoch, else None;
    - ``statistics``: the numbers behind it (e.g. ``{"grad_ratio": 2e-07}``).

    The message says what was seen, names the trouble and gives the remedy.
    """

    def __init__(self, message: str, *, kind: str, layer: LayerRef, epoch: int, batch=None, statistics=None):
        if kind not in KINDS:
            raise ValueError(f"TrainingHealthWarning: kind must be one of {KINDS}, got {kind!r}")
        super().__init__(message)
        self.kind, self.layer, self.epoch, self.batch = kind, layer, epoch, batch
        self.statistics = dict(statistics or {})


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # .../xpnn/


def _warn(warning: Warning) -> None:
    """Warn, pointing at the first line outside xpnn (the user's fit call or loop), however
    deep inside fit the warning is raised (Python 3.12's skip_file_prefixes, by hand)."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(warning, stacklevel=level)


# ---------------------------------------------------------------- the monitor

# activations whose derivative at the output ``a`` is below a fraction t of its maximum when
# |a - center| > half_range * sqrt(1 - t): sigmoid a(1-a) = 1/4 - (a - 1/2)^2, whose maximum
# is 1/4 (the seeds' "a mere 0.25"); tanh 1 - a^2, whose maximum is 1
_SATURATING = {"sigmoid": (0.5, 0.5), "tanh": (0.0, 1.0)}
_DYING = ("relu",)  # outputs exactly 0 with zero gradient below the kink: a unit can die


def _activation_name(layer) -> str | None:
    function = getattr(layer, "function", None)  # an activation layer (ReLU(), Sigmoid()...)
    if function is None:
        function = getattr(getattr(layer, "activation", None), "function", None)  # Dense(..., activation=)
    return getattr(function, "name", None)


def _mean(values) -> float:
    values = [v for v in values if v == v]
    return sum(values) / len(values) if values else math.nan


class TrainingMonitor(Callback):
    """Per-layer training statistics, read from the device once per epoch, with warnings.

    For each top-level layer of the model (index = position in the model), every epoch:

    - ``grad_norm``: the L2 norm of the gradient over the layer's parameters, averaged over
      the epoch's steps; ``grad_ratio``: that over the output layer's (the last layer with
      parameters). Ratios far below 1 in early layers are vanishing gradients, far above 1
      exploding ones ("check gradient magnitudes across layers", the seeds' table).
    - ``update_ratio``: ||w_after - w_before|| / ||w_before|| for one step, averaged over the
      sampled steps (about 1e-3 is the usual healthy size; Karpathy, CS231n notes).
    - ``dead_fraction`` (ReLU layers): the fraction of units (features; channels of images)
      whose output was 0 on every sample seen in the epoch ("columns that consistently output
      zero").
    - ``saturated_fraction`` (sigmoid and tanh layers): the fraction of outputs whose
      derivative is below ``saturation_threshold`` times its maximum: sigmoid a(1-a) < t/4,
      tanh 1-a^2 < t.
    - ``activation_mean``, ``activation_std``: over every output of the layer in the epoch
      (combined from per-step moments with Chan et al.'s pairwise formula, no cancellation).

    A statistic that does not apply to a layer (no parameters, not a ReLU or a saturating
    layer) is NaN. Nothing is read back inside a step: each step adds a few reductions to
    the device's queue, and ``end_epoch`` reads everything in one transfer.

    Warnings (``TrainingHealthWarning``; at most one of each kind per layer per epoch, and
    by default only the first epoch's of each kind and layer in a run: ``repeat=True`` warns
    again every epoch the problem persists; none with ``verbose=0``; ``problems`` keeps every
    epoch's, warned or not):

    - "vanishing_gradient": ``grad_ratio < vanishing_ratio`` (default 1e-3);
    - "exploding_gradient": ``grad_ratio > exploding_ratio`` (default 1e3), or a gradient norm
      above ``exploding_norm`` (default 1e3; too large weights make every layer's gradient
      huge while their ratios stay near 1);
    - "dead_units": ``dead_fraction > dead_fraction`` argument (default 0.5);
    - "saturation": ``saturated_fraction > saturation_fraction`` (default 0.5);
    - "non_finite": a NaN or infinite statistic (in ``fit``, its guard reports the step and
      layer instead, see ``fit(terminate_on_nan=True)``).

    ``every``: the activation moments, saturated fractions and update ratios come from one
    step in ``every`` (the first of each epoch, then every ``every``-th; default 10, which keeps
    the monitor's cost under 10% of a step, see benchmarks/README.md); gradient norms and dead
    units come from every step. ``every=1`` measures every step.

    In ``fit``: ``callbacks=[TrainingMonitor()]``; the statistics land in
    ``history.diagnostics`` (saved in checkpoints). In a hand-written loop::

        with TrainingMonitor(model) as monitor:          # attaches forward hooks
            for epoch in range(epochs):
                for xb, yb in batches:
                    train_step(model, loss, optimizer, xb, yb)
                    monitor.observe_step()                # after the optimizer's step
                stats = monitor.end_epoch()               # one read; warns
        monitor.history                                   # as history.diagnostics

    In data-parallel training (``fit(distributed=...)``) the gradient statistics are the
    whole batch's (each process holds the summed gradient) but the activation statistics and
    dead units are those of each process's own share of every batch, and only rank 0 warns; a
    unit silent on rank 0's share may be alive on another's.

    Activation statistics and update ratios need the model's layers to run as items of a
    ``Sequential``/``Model`` (forward hooks see them there); for any other Layer they are NaN.
    Errors: TypeError for a model that is not a Layer, ValueError or TypeError (naming it) for
    a bad threshold, RuntimeError for ``observe_step``/``end_epoch`` before a model is attached.
    """

    order = -5  # before checkpoints (which save history.diagnostics) and the progress line

    def __init__(self, model=None, *, vanishing_ratio: float = 1e-3, exploding_ratio: float = 1e3,
                 exploding_norm: float = 1e3, dead_fraction: float = 0.5, saturation_fraction: float = 0.5,
                 saturation_threshold: float = 0.01, every: int = 10, verbose: int = 1,
                 repeat: bool = False):
        super().__init__()
        where = "TrainingMonitor"
        self.vanishing_ratio = check_number(vanishing_ratio, "vanishing_ratio", where, low=0, high=1,
                                            low_open=True, high_open=True)
        self.exploding_ratio = check_number(exploding_ratio, "exploding_ratio", where, low=1, low_open=True)
        self.exploding_norm = check_number(exploding_norm, "exploding_norm", where, low=0, low_open=True)
        self.dead_fraction = check_number(dead_fraction, "dead_fraction", where, low=0, high=1, high_open=True)
        self.saturation_fraction = check_number(saturation_fraction, "saturation_fraction", where, low=0,
                                                high=1, high_open=True)
        self.saturation_threshold = check_number(saturation_threshold, "saturation_threshold", where, low=0,
                                                 high=1, low_open=True, high_open=True)
        self.every = check_int(every, "every", where, minimum=1)
        if verbose not in (0, 1) or isinstance(verbose, float):
            raise ValueError(f"{where}: verbose must be 0 (record only) or 1 (warn too), got {verbose!r:.40}")
        self.verbose = int(verbose)
        self.repeat = check_bool(repeat, "repeat", where)
        self._warned = set()  # (kind, layer index) already warned about, without repeat
        self.model = None
        self.history: dict = {}
        self.problems: list[TrainingHealthWarning] = []
        self._handles = []
        self._attached = self._attached_by_fit = False
        if model is not None:
            self.attach(model)

    # -- attaching to a model
    def attach(self, model) -> "TrainingMonitor":
        """Start watching ``model``: forward hooks on its top-level layers (removed by
        ``close``). The record (``history``) starts empty."""
        _check_model(model, "TrainingMonitor")
        self.close()
        self.model = model
        self._layers = top_level_layers(model)
        self.descriptions = [describe(layer) for layer in self._layers]
        self._with_parameters = [
            (index, [p for p in layer.parameters()]) for index, layer in enumerate(self._layers)
            if layer.parameters()]
        self._output = self._with_parameters[-1][0] if self._with_parameters else None
        self._kinds = [_activation_name(layer) for layer in self._layers]
        self._hooked = isinstance(model, Sequential)
        parameters = model.parameters()
        self._xp = namespace_of(value=parameters[0].value) if parameters else None
        self._nans = {}  # dtype: a device NaN (a model's arrays share one backend)
        if self._hooked:
            positions = {}
            for index, layer in enumerate(self._layers):
                positions.setdefault(id(layer), (layer, []))[1].append(index)
            for layer, indices in positions.values():
                self._handles.append(layer.register_forward_hook(self._hook_for(indices)))
        self.history = self._new_record()
        self._prev = None
        self._warned = set()
        self._attached = True
        self._reset_epoch()
        return self

    def close(self) -> None:
        """Remove the forward hooks: the model is as it was before ``attach``."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._attached = False

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _new_record(self) -> dict:
        return {"layers": list(self.descriptions), "epoch": [], **{name: [] for name in STATISTICS}}

    def _reset_epoch(self) -> None:
        self._steps = 0
        self._grad_rows, self._update_rows = [], []
        self._act = [[] for _ in self._layers]
        self._act_sizes = [[] for _ in self._layers]
        self._alive = [None] * len(self._layers)
        self._frozen = set()  # layers that had no gradient on some step of the epoch

    def _require_model(self, where: str) -> None:
        if self.model is None:
            raise RuntimeError(f"TrainingMonitor.{where}: no model attached; build it as "
                               "TrainingMonitor(model) or call attach(model) first")

    # -- what each step adds (device operations only)
    def _hook_for(self, indices: list):
        """The forward hook of a layer found at ``indices`` (one position, unless the same layer
        object is used twice: a forward then calls it at each position in turn)."""
        kind = self._kinds[indices[0]]
        center_bound = _SATURATING.get(kind)
        calls = [0]

        def hook(layer, x, out, training):
            if not training:
                return
            index = indices[calls[0] % len(indices)]
            calls[0] += 1
            xp = self._xp or namespace_of(out=out)
            if kind in _DYING:  # every step: a unit is dead only if silent on every sample
                axes = (0,) if out.ndim <= 2 else (0, *range(2, out.ndim))
                peak = xp.max(out, axis=axes)  # ReLU outputs are >= 0: a max of 0 is a silent unit
                alive = self._alive[index]
                self._alive[index] = peak if alive is None else xp.maximum(alive, peak)
            if self._steps % self.every:
                return
            if self._prev is None:  # the weights this step starts from, for its update ratio
                self._prev = self._weights()
            flat = xp.reshape(out, (-1,))
            mean = xp.mean(flat)
            centred = flat - mean
            values = [mean, xp.vecdot(centred, centred)]
            if center_bound is not None:
                center, half_range = center_bound
                bound = half_range * math.sqrt(1.0 - self.saturation_threshold)
                away = xp.abs(flat - center) if center else xp.abs(flat)
                values.append(xp.astype(xp.count_nonzero(away > bound), flat.dtype))
            self._act[index].append(xp.stack(values))
            self._act_sizes[index].append(flat.shape[0])

        return hook

    def observe_step(self) -> None:
        """Fold in one training step: call it after the optimizer's step (``fit`` calls it
        from ``on_batch_end``). Reads each parameter's ``grad`` as the backward pass left it
        and the weights the step produced; nothing is read back to the host."""
        self._require_model("observe_step")
        xp = self._xp
        rows = []
        for index, params in self._with_parameters:
            total = None
            for p in params:
                if p.grad is not None:
                    g = xp.reshape(p.grad, (-1,))
                    total = xp.vecdot(g, g) if total is None else total + xp.vecdot(g, g)
            if total is None:  # frozen: the statistic does not apply, NaN is no divergence
                self._frozen.add(index)
                total = self._nan_for(xp, params[0].value.dtype)
            rows.append(total)
        if rows:
            self._grad_rows.append(xp.stack(rows))
        if self._prev is not None:
            position, changes = 0, []
            for _, params in self._with_parameters:
                moved = before = None
                for p in params:
                    old = self._prev[position]
                    position += 1
                    d, o = xp.reshape(p.value - old, (-1,)), xp.reshape(old, (-1,))
                    moved = xp.vecdot(d, d) if moved is None else moved + xp.vecdot(d, d)
                    before = xp.vecdot(o, o) if before is None else before + xp.vecdot(o, o)
                changes += [moved, before]
            if changes:
                self._update_rows.append(xp.stack(changes))
            self._prev = None
        self._steps += 1
        if not self._hooked and self._steps % self.every == 0:
            # no forward hooks fire for a bare layer: the next step's update is measured from here
            self._prev = self._weights()

    def _nan_for(self, xp, dtype):
        """A NaN on the device, made once per dtype: not a host-to-device copy every step."""
        if dtype not in self._nans:
            self._nans[dtype] = xp.asarray(math.nan, dtype=dtype)
        return self._nans[dtype]

    def _weights(self) -> list:
        return [copy_of(p.value) for _, params in self._with_parameters for p in params]

    # -- once per epoch
    def end_epoch(self, epoch: int | None = None) -> dict:
        """Read the epoch's statistics from the device (one transfer), append them to
        ``history``, warn (``verbose=1``) and start the next epoch. ``epoch`` (0-based)
        defaults to the one after the last recorded. Returns ``{statistic: [one float per
        layer]}``."""
        self._require_model("end_epoch")
        if epoch is None:
            epoch = self.history["epoch"][-1] + 1 if self.history["epoch"] else 0
        epoch = check_int(epoch, "epoch", "TrainingMonitor.end_epoch", minimum=0)
        stats = self._read_epoch()
        self.history["epoch"].append(epoch)
        for name in STATISTICS:
            self.history[name].append(stats[name])
        found = self._judge(epoch, stats)
        self.problems.extend(found)
        trainer = getattr(self, "trainer", None)
        if self.verbose and getattr(trainer, "rank", 0) == 0:  # one process speaks for a distributed run
            for warning in found:
                if not self.repeat:  # a deep sigmoid net would say the same for every layer, every epoch
                    key = (warning.kind, warning.layer.index)
                    if key in self._warned:
                        continue
                    self._warned.add(key)
                    warning = TrainingHealthWarning(
                        f"{warning.args[0]} (said once a run; monitor.problems has every epoch's)", kind=warning.kind,
                        layer=warning.layer, epoch=warning.epoch, batch=warning.batch, statistics=warning.statistics)
                _warn(warning)
        self._reset_epoch()
        return stats

    def _read_epoch(self) -> dict:
        count = len(self._layers)
        pieces, layout = [], []

        def add(name, rows):
            if rows:
                xp = namespace_of(row=rows[0])
                block = xp.stack(rows)
                layout.append((name, tuple(block.shape)))
                pieces.append(xp.reshape(xp.astype(block, xp.float64), (-1,)))

        add("grads", self._grad_rows)
        add("updates", self._update_rows)
        for index in range(count):
            add(("act", index), self._act[index])
        dead = [index for index in range(count) if self._alive[index] is not None]
        for index in dead:
            xp = namespace_of(alive=self._alive[index])
            silent = xp.mean(xp.astype(self._alive[index] == 0, xp.float64))
            layout.append((("dead", index), (1,)))
            pieces.append(xp.reshape(silent, (1,)))
        host = []
        if pieces:
            xp = namespace_of(piece=pieces[0])
            host = to_numpy(xp.concat(pieces) if len(pieces) > 1 else pieces[0]).tolist()  # the one read
        blocks, start = {}, 0
        for name, shape in layout:
            size = math.prod(shape)
            flat = host[start:start + size]
            start += size
            blocks[name] = [flat[row * shape[1]:(row + 1) * shape[1]] for row in range(shape[0])] \
                if len(shape) == 2 else flat
        nan = math.nan
        stats = {name: [nan] * count for name in STATISTICS}
        for column, (index, _) in enumerate(self._with_parameters):
            stats["grad_norm"][index] = _mean(
                math.sqrt(row[column]) if row[column] >= 0 else nan for row in blocks.get("grads", []))
            ratios = []
            for row in blocks.get("updates", []):
                moved, before = row[2 * column], row[2 * column + 1]
                ratios.append(math.sqrt(moved / before) if before > 0 else nan)
            stats["update_ratio"][index] = _mean(ratios)
        if self._output is not None:
            reference = stats["grad_norm"][self._output]
            for index, _ in self._with_parameters:
                norm = stats["grad_norm"][index]
                stats["grad_ratio"][index] = norm / reference if reference > 0 else nan
        for index in range(count):
            rows, sizes = blocks.get(("act", index)), self._act_sizes[index]
            if not rows:
                continue
            total = sum(sizes)
            mean = sum(n * row[0] for n, row in zip(sizes, rows)) / total
            # Chan, Golub & LeVeque (1979): pooled squared deviations = within + between groups
            squares = sum(row[1] + n * (row[0] - mean) ** 2 for n, row in zip(sizes, rows))
            stats["activation_mean"][index] = mean
            stats["activation_std"][index] = math.sqrt(squares / total) if squares >= 0 else nan
            if self._kinds[index] in _SATURATING:
                stats["saturated_fraction"][index] = sum(row[2] for row in rows) / total
            if ("dead", index) in blocks:
                stats["dead_fraction"][index] = blocks[("dead", index)][0]
        return stats

    def _judge(self, epoch: int, stats: dict) -> list:
        found = []

        def report(kind, index, text, **numbers):
            layer = LayerRef(index, self.descriptions[index])
            found.append(TrainingHealthWarning(f"epoch {epoch + 1}: {layer}: {text}", kind=kind, layer=layer,
                                               epoch=epoch, statistics=numbers))

        guard = getattr(self.trainer, "guard", None) if self.trainer is not None else None
        if guard is None or guard.failed_epoch != epoch:  # fit's guard has named the step already
            # the mean, not the std: squared deviations of huge but finite outputs overflow
            bad = [index for index in range(len(self._layers))
                   if self._act_sizes[index] and not math.isfinite(stats["activation_mean"][index])]
            bad += [index for index, _ in reversed(self._with_parameters) if self._grad_rows
                    and index not in self._frozen and not math.isfinite(stats["grad_norm"][index])]
            if bad:
                report("non_finite", bad[0], "NaN or infinite values in its outputs or gradients: the training "
                       "diverged; lower the learning rate, clip gradients (clip_norm=1.0), standardise the inputs")
        dead_at = [index for index in range(len(self._layers))
                   if stats["dead_fraction"][index] > self.dead_fraction]
        for index in dead_at:
            share = stats["dead_fraction"][index]
            report("dead_units", index, f"{share:.0%} of its units output 0 on every sample of the epoch: dying "
                   "ReLUs; lower the learning rate, use LeakyReLU, or check for large negative biases",
                   dead_fraction=share)
        for index in range(len(self._layers)):
            share = stats["saturated_fraction"][index]
            if share > self.saturation_fraction:
                report("saturation", index, f"{share:.0%} of its {self._kinds[index]} outputs are saturated "
                       f"(derivative below {self.saturation_threshold:g} of its maximum): saturation; standardise "
                       "the inputs, use Xavier initialisation, or ReLU in hidden layers", saturated_fraction=share)
        output_norm = stats["grad_norm"][self._output] if self._output is not None else math.nan
        for index, _ in self._with_parameters:
            ratio = stats["grad_ratio"][index]
            if any(dead >= index for dead in dead_at):
                continue  # below dead units every gradient is small: the remedy is theirs
            if not math.isfinite(output_norm) and ratio < self.vanishing_ratio:
                continue  # finite over infinite: a diverging run, not a vanishing gradient
            if ratio < self.vanishing_ratio:
                report("vanishing_gradient", index, f"gradient norm is {ratio:.1g} of the output layer's: "
                       "vanishing gradients; use ReLU with He initialisation, or add BatchNorm", grad_ratio=ratio)
            elif ratio > self.exploding_ratio or stats["grad_norm"][index] > self.exploding_norm:
                norm = stats["grad_norm"][index]
                seen = (f"gradient norm is {ratio:.1g} times the output layer's" if ratio > self.exploding_ratio
                        else f"gradient norm is {norm:.1g} (above exploding_norm={self.exploding_norm:g})")
                report("exploding_gradient", index, f"{seen}: exploding gradients; lower the learning rate, clip "
                       "gradients (e.g. SGD(clip_norm=1.0)), use Xavier/He initialisation, or standardise the "
                       "targets", grad_ratio=ratio, grad_norm=norm)
        return found

    # -- as a fit callback
    def on_train_begin(self, logs=None):
        self._warned = set()  # each run says each problem once
        model = self.trainer.model
        if self.model is not None and self.model is not model:
            raise ValueError("TrainingMonitor: it is attached to another model than the one fit trains")
        self._attached_by_fit = not self._attached
        if self._attached_by_fit:
            self.attach(model)
        history = self.trainer.history
        if history.diagnostics:  # a resumed run: carry on with the record its checkpoint holds
            if history.diagnostics.get("layers") != self.descriptions:
                raise ValueError("TrainingMonitor: the checkpoint's diagnostics describe other layers: "
                                 f"{history.diagnostics.get('layers')} vs {self.descriptions}")
            self.history = history.diagnostics
        else:
            self.history = self._new_record()
            history.diagnostics = self.history
        self._reset_epoch()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset_epoch()
        self._prev = None

    def on_batch_end(self, batch, logs=None):
        self.observe_step()

    def on_epoch_end(self, epoch, logs=None):
        self.end_epoch(epoch)

    def on_train_end(self, logs=None):
        self.release()

    def release(self) -> None:
        """What ``fit`` calls when training ends, normally or by an exception: a monitor that
        ``fit`` attached lets go of the model (hooks off, free for another model); one attached
        by the user stays attached until its ``close``."""
        if self._attached_by_fit:
            self.close()
            self.model, self._attached_by_fit = None, False


# ---------------------------------------------------------------- fit's stop on NaN and inf

def _all_finite(arrays) -> bool:
    """Whether every entry of every array is finite: one reduction per array, one host read."""
    if not arrays:
        return True
    xp = namespace_of(value=arrays[0])
    return bool(xp.all(xp.stack([xp.all(xp.isfinite(a)) for a in arrays])))


_REMEDY = ("lower the learning rate, clip gradients (e.g. Adam(clip_norm=1.0)), or standardise the "
           "inputs and targets")


class NonFiniteGuard:
    """What ``fit(terminate_on_nan=True)`` (the default) runs: the last finite weights kept.

    At the start of each epoch it keeps device copies of the weights and buffers, the
    optimizer's state and the layers' random streams (``begin_epoch``). At the end of the
    epoch, where the loss is read anyway, it checks the loss and whether every weight is
    finite (one more read). Only when they are not, it puts the copies back and replays the
    epoch's steps (the same batches in the same order, the same dropout masks), now reading
    each layer's output, the loss, each layer's gradients and the updated weights back to the
    host, until the first NaN or infinity. The weights and optimizer state are left as they
    were just before that step, ``history.stop_reason`` says where it happened, and a
    ``TrainingHealthWarning(kind="non_finite")`` names the epoch, the batch and the layer.
    Training steps are never made to wait: the checks run once per epoch, the replay only
    after a failure. The copies double the memory the weights and optimizer state take.
    """

    def __init__(self, trainer, *, warn: bool = True, replay: bool = True):
        self.trainer, self.warn = trainer, warn  # warn=False: a TerminateOnNaN callback reports it
        # replay=False (data-parallel training, where a process holds only its share of each
        # step): restore the epoch's start without looking for the step
        self.replay = replay
        self.failed_epoch = self.message = None
        self.finding = None  # after a failure: (epoch, batch, stage, LayerRef)
        self.replayed_losses = []  # after a failure: the batch losses of the replayed steps
        self._snapshot = None

    def _take(self, reuse=None):
        trainer = self.trainer
        if reuse is None:
            model_arrays, optimizer_state = snapshot_state(trainer.model), trainer.optimizer.snapshot()
        else:
            old = reuse[0]
            model_arrays = [copy_into(old[index] if index < len(old) else None, held.value)
                            for index, (_, held) in enumerate(trainer.model.named_state())]
            optimizer_state = trainer.optimizer.snapshot(reuse[1])
        return model_arrays, optimizer_state, [(stream, stream.state_dict()) for stream in trainer._random_streams()]

    def _put_back(self, snapshot) -> None:
        model_arrays, optimizer_state, streams = snapshot
        restore_state(self.trainer.model, model_arrays)
        self.trainer.optimizer.load_snapshot(optimizer_state)
        for stream, state in streams:
            stream.load_state_dict(state)

    def begin_epoch(self) -> None:
        self._snapshot = self._take(reuse=self._snapshot)

    def restore_epoch_start(self) -> None:
        """Put back the weights, optimizer state and streams the epoch began with."""
        if self._snapshot is not None:
            self._put_back(self._snapshot)

    def end_epoch(self, epoch: int, loss: float, batches, bounds) -> bool:
        """Check the epoch (``loss`` is its mean training loss, already on the host); on a
        failure, locate it, restore, warn and stop the trainer, and return True.
        ``batches`` is the epoch's (X, y, weights or None) in the order it trained on them,
        ``bounds`` the (start, stop) of each batch."""
        model = self.trainer.model
        if math.isfinite(loss) and _all_finite([p.value for p in model.parameters()]):
            return False
        self.failed_epoch = epoch
        found = self._replay(batches, bounds) if self.replay else None
        if found is None:
            self.restore_epoch_start()
            layer = LayerRef(None, "an unknown layer")
            batch, what = None, ("the loss or the weights became NaN or infinite, but replaying the epoch did "
                                 "not reproduce it; the weights from the start of the epoch are restored"
                                 if self.replay else
                                 "the loss or the weights became NaN or infinite (data-parallel training: the "
                                 "epoch is not replayed to find the step); the weights from the start of the "
                                 "epoch are restored")
        else:
            batch, stage, layer = found
            what = {
                "forward": f"{layer} output NaN or infinite values in the forward pass",
                "loss": f"{layer} was NaN or infinite though the model's outputs were finite",
                "backward": f"the gradients of {layer} were NaN or infinite in the backward pass",
                "update": f"the optimizer's update made the weights of {layer} NaN or infinite",
            }[stage] + "; the weights from before that step are restored"
            if self.replayed_losses:  # finite is not healthy: say how far the run had gone
                what += (f" (the epoch's batch losses before it went from {self.replayed_losses[0]:.4g} to "
                         f"{self.replayed_losses[-1]:.4g}: finite weights are not always sound ones)")
        self.finding = (epoch, batch, None if found is None else found[1], layer)
        step = f"epoch {epoch + 1}" + ("" if batch is None else f", batch {batch + 1}")
        self.message = message = f"non-finite values at {step}: {what}; {_REMEDY}"
        if self.warn and getattr(self.trainer, "rank", 0) == 0:  # one process speaks for a distributed run
            _warn(TrainingHealthWarning(message, kind="non_finite", layer=layer, epoch=epoch, batch=batch))
        self.trainer.stop(message)
        return True

    def _replay(self, batches, bounds):
        trainer = self.trainer
        model, loss, optimizer = trainer.model, trainer.loss, trainer.optimizer
        layers, params = top_level_layers(model), model.parameters()
        X, y, weights = batches
        self._put_back(self._snapshot)
        self.replayed_losses = []
        with warnings.catch_warnings():  # the overflows the epoch already reported, once more
            warnings.simplefilter("ignore", RuntimeWarning)
            return self._replay_steps(layers, loss, optimizer, params, X, y, weights, bounds)

    def _replay_steps(self, layers, loss, optimizer, params, X, y, weights, bounds):
        for batch, (start, stop) in enumerate(bounds):
            before = self._take()
            xb, yb = X[start:stop, ...], y[start:stop, ...]
            wb = None if weights is None else weights[start:stop]
            found = _checked_step(layers, loss, optimizer, params, xb, yb, wb, self.replayed_losses)
            if found is not None:
                self._put_back(before)
                stage, index = found
                layer = (LayerRef(None, f"the loss ({type(loss).__name__})") if index is None
                         else LayerRef(index, describe(layers[index])))
                return batch, stage, layer
        return None


def _checked_step(layers, loss, optimizer, params, xb, yb, wb, losses):
    """``train_step`` taken layer by layer, each result read back: ``(stage, layer index)``
    of the first non-finite value (index None for the loss), or None. The same operations
    in the same order as ``forward_backward`` and ``optimizer.step``, so the same numbers."""
    x, backwards = xb, []
    for index, layer in enumerate(layers):
        x, backward = layer.forward(x, True)
        backwards.append(backward)
        if not _all_finite([x]):
            return "forward", index
    value, loss_backward = loss.forward(x, yb) if wb is None else loss.forward(x, yb, sample_weight=wb)
    if not _all_finite([value]):
        return "loss", None
    losses.append(float(value))  # the replay may read: it runs only after a failure
    for parameter in params:
        parameter.zero_grad()
    dout = loss_backward()
    for index in reversed(range(len(layers))):
        if index:
            dout = backwards[index](dout)
        else:
            backward_for_parameters(backwards[0], dout)
            dout = None
        grads = [p.grad for p in layers[index].parameters() if p.grad is not None]
        if not _all_finite(grads + ([] if dout is None else [dout])):
            return "backward", index
    optimizer.step(params)
    for index, layer in enumerate(layers):
        if not _all_finite([p.value for p in layer.parameters()]):
            return "update", index
    return None


def checked_diagnostics(saved, corrupted) -> dict:
    """``History.diagnostics`` from a checkpoint, its structure checked: {} or the layers'
    descriptions, the epochs, and for each statistic one list of numbers per epoch, one
    number per layer. ``corrupted(entry, error)`` makes the error to raise."""
    if not isinstance(saved, dict):
        raise corrupted("history: diagnostics", "must be a dict")
    if not saved:
        return {}
    missing = [key for key in ("layers", "epoch", *STATISTICS) if key not in saved]
    if missing or set(saved) - {"layers", "epoch", *STATISTICS}:
        raise corrupted("history: diagnostics", f"must hold exactly 'layers', 'epoch' and {', '.join(STATISTICS)}"
                        + (f"; it lacks {', '.join(missing)}" if missing else ""))
    layers, epochs = saved["layers"], saved["epoch"]
    if not isinstance(layers, list) or not all(isinstance(text, str) for text in layers):
        raise corrupted("history: diagnostics: layers", "must be a list of texts")
    if not isinstance(epochs, list) or not all(
            isinstance(e, int) and not isinstance(e, bool) and e >= 0 for e in epochs):
        raise corrupted("history: diagnostics: epoch", "must be a list of ints >= 0")
    for name in STATISTICS:
        rows = saved[name]
        if not isinstance(rows, list) or len(rows) != len(epochs) or not all(
                isinstance(row, list) and len(row) == len(layers) and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in row) for row in rows):
            raise corrupted(f"history: diagnostics: {name}",
                            f"must hold, for each of the {len(epochs)} epochs, one number per layer ({len(layers)})")
    return {"layers": list(layers), "epoch": list(epochs), **{name: [list(row) for row in saved[name]]
                                                              for name in STATISTICS}}
