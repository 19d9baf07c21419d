"""The fit loop: mini-batch gradient descent with validation, metrics, callbacks and resuming.

Every argument and every array is checked before the first step (``data.py``). Host data
moves to the active backend once; each epoch draws one shuffle permutation on the host and
gathers the data with it on the device. Losses and metrics are summed on the device and read
once per epoch, so a GPU is never made to wait inside an epoch. ``batch_size`` picks the
three flavours of gradient descent: the whole set (batch), 1 (stochastic) or in between.
"""

from __future__ import annotations

import copy
import warnings

from ..backend import asarray_like, check_generator_state, dtype_is, namespace_of, rng, to_numpy
from ..nn import losses
from ..nn.activations import Activation
from ..nn.layer import layer_config
from ..nn.layers.sequential import Sequential
from .. import optim
from ..utils.validation import check_bool, check_int, check_number, check_optional_int
from . import data, metrics as metrics_module, weights as sample_weights
from .callbacks import (
    Callback, History, ProgressBar, TerminateOnNaN, check_optimizer_schedule, restore_state, snapshot_state,
)
from .checkpoint import (
    CHECKPOINT_FORMAT, checked_model_state, model_state, read_file, training_config, write_file,
)
from .diagnostics import NonFiniteGuard, checked_diagnostics
from .step import train_step


class Trainer:
    """The state of one ``fit`` call, which callbacks see as ``callback.trainer``."""

    def __init__(self, model, loss, optimizer, metric_list, callbacks, *, epochs, batch_size,
                 shuffle, shuffle_rng, has_validation, steps_per_epoch, verbose):
        self.model, self.loss, self.optimizer = model, loss, optimizer
        self.metrics, self.callbacks = metric_list, callbacks
        self.epochs, self.batch_size, self.shuffle = epochs, batch_size, shuffle
        self.shuffle_rng = shuffle_rng
        self.has_validation, self.steps_per_epoch, self.verbose = has_validation, steps_per_epoch, verbose
        self.history = History()
        self.initial_epoch = 0
        self.completed_epochs = 0
        self.stop_training = False
        self._saved_callbacks = []  # (callback, checked state) pairs from a checkpoint
        self._undo = None
        self.on_start = None  # called when every check has passed, before the first step
        self.guard = None  # diagnostics.NonFiniteGuard with terminate_on_nan (fit's default)
        self.strategy = None  # xpnn.distributed.DataParallel for fit(distributed=...)
        self.rank = 0  # this process's number in a distributed run

    def log_keys(self) -> list[str]:
        """The keys every epoch's logs will hold: the loss and the metrics, and their ``val_``
        twins when there is validation data."""
        keys = ["loss", *(metric.name for metric in self.metrics)]
        return keys + [f"val_{key}" for key in keys] if self.has_validation else keys

    def stop(self, reason: str) -> None:
        """Ask the loop to end after this epoch; ``history.stop_reason`` keeps why."""
        self.stop_training = True
        self.history.stop_reason = reason

    # -- checkpoints
    def _random_streams(self) -> list:
        return self.model.all_random_streams()

    def checkpoint_content(self) -> dict:
        return {
            "architecture": layer_config(self.model),
            "state": model_state(self.model),
            "epoch": self.completed_epochs,
            "fit": {"batch_size": self.batch_size, "shuffle": self.shuffle, "epochs": self.epochs},
            "optimizer": self.optimizer.state_dict(),
            "history": self.history.state_dict(),
            "shuffle_rng": self.shuffle_rng.bit_generator.state,
            "layer_random": [stream.state_dict() for stream in self._random_streams()],
            "callbacks": [{"class": type(c).__name__, "state": c.state_dict()} for c in self.callbacks],
            "training": training_config(self.loss, self.metrics),
        }

    def save_checkpoint(self, path) -> None:
        """Everything needed to continue this run exactly, written atomically to ``path``."""
        write_file(path, CHECKPOINT_FORMAT, self.checkpoint_content())

    def restore(self, content: dict, path) -> None:
        """Continue from a checkpoint's content (``read_file``), all or nothing: every entry is
        checked against this model, optimizer and callbacks first (shapes, dtypes, counters,
        random states, callback state), and only then is anything changed. A ValueError names
        the file and the entry. Callback state is loaded after ``on_train_begin`` (which would
        reset it); should that fail, ``run`` puts everything back as it was (``_undo``)."""
        staged = self._stage(content, path)
        self._undo = self._undo_point()
        self._commit(staged)

    def _stage(self, content: dict, path) -> dict:
        def corrupted(entry, error):
            return ValueError(f"{path}: corrupted checkpoint: {entry}: {error}")

        if not isinstance(content, dict):
            raise ValueError(f"{path}: corrupted checkpoint: its content is not a dict")
        missing = [key for key in ("state", "epoch", "optimizer", "history", "shuffle_rng", "layer_random",
                                   "callbacks") if key not in content]
        if missing:
            raise ValueError(f"{path}: corrupted checkpoint: it lacks {', '.join(map(repr, missing))}")
        staged = {"state": checked_model_state(self.model, content["state"], path)}
        epoch = content["epoch"]
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise corrupted("epoch", f"must be an int >= 0, got {epoch!r:.40}")
        staged["epoch"] = epoch
        try:
            trial = type(self.optimizer).from_config(self.optimizer.get_config())
            trial.load_state_dict(content["optimizer"], self.model.parameters())
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError) as error:
            raise ValueError(f"{path}: cannot resume with this optimizer: {error}") from None
        staged["optimizer"] = content["optimizer"]
        streams, saved_streams = self._random_streams(), content["layer_random"]
        if not isinstance(saved_streams, list) or len(saved_streams) != len(streams):
            count = len(saved_streams) if isinstance(saved_streams, list) else "no list of"
            raise ValueError(f"{path}: does not match this model's architecture: it has "
                             f"{count} random layers (dropout), the model {len(streams)}")
        for index, (stream, state) in enumerate(zip(streams, saved_streams)):
            try:
                copy.deepcopy(stream).load_state_dict(state)
            except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as error:
                raise corrupted(f"layer_random[{index}]", error) from None
        staged["streams"] = list(zip(streams, saved_streams))
        try:
            check_generator_state(content["shuffle_rng"])  # NumPy 1.26 takes -1 into PCG64's state
            rng(0).bit_generator.state = content["shuffle_rng"]  # a throwaway generator checks the rest
        except (ValueError, TypeError, KeyError, OverflowError, AttributeError) as error:
            raise corrupted("shuffle_rng", error) from None
        staged["shuffle_rng"] = content["shuffle_rng"]
        staged["history"] = _checked_history(content["history"], corrupted)
        staged["callbacks"] = self._checked_callback_states(content["callbacks"], corrupted)
        saved_fit = content.get("fit", {})
        for key in ("batch_size", "shuffle"):
            if isinstance(saved_fit, dict) and saved_fit.get(key) != getattr(self, key):
                warnings.warn(f"resuming from {path} with {key}={getattr(self, key)!r}, but the run was "
                              f"saved with {key}={saved_fit.get(key)!r}: it will not continue exactly",
                              RuntimeWarning, stacklevel=4)
        return staged

    def _checked_callback_states(self, entries, corrupted) -> list:
        """The saved states matched to this run's callbacks (same class, in order), each checked
        by its callback's ``check_state``."""
        if not isinstance(entries, list) or not all(
                isinstance(e, dict) and isinstance(e.get("class"), str) and isinstance(e.get("state"), dict)
                for e in entries):
            raise corrupted("callbacks", "must be a list of {'class': name, 'state': dict}")
        saved = {}
        for entry in entries:
            saved.setdefault(entry["class"], []).append(entry["state"])
        matched = []
        for callback in self.callbacks:
            states = saved.get(type(callback).__name__)
            if states:
                state = states.pop(0)
                try:
                    callback.check_state(state)
                except (ValueError, TypeError, KeyError) as error:
                    raise corrupted(f"callbacks: {type(callback).__name__}", error) from None
                matched.append((callback, state))
        return matched

    def _commit(self, staged: dict) -> None:
        """Apply what ``_stage`` checked; nothing here can fail on a checked checkpoint."""
        for (_, held), array in zip(self.model.named_state(), staged["state"]):
            held.value = array
        self.optimizer.load_state_dict(staged["optimizer"], self.model.parameters())
        for stream, state in staged["streams"]:
            stream.load_state_dict(state)
        self.shuffle_rng.bit_generator.state = staged["shuffle_rng"]
        self.history = staged["history"]
        # a run that had already stopped (early stopping, NaN) stays stopped, as it would have
        # without the interruption; on_train_end still runs (restoring the best weights)
        self.stop_training = self.history.stop_reason is not None
        self.initial_epoch = self.completed_epochs = staged["epoch"]
        self._saved_callbacks = staged["callbacks"]

    def _undo_point(self):
        """What ``_commit`` changes, kept so that a failure before the first step can put it
        back: the model's arrays, the optimizer's attributes (load_state_dict replaces them
        rather than changing them in place) and its schedule's state, the random streams."""
        optimizer, schedule = self.optimizer, self.optimizer.lr
        model_arrays = snapshot_state(self.model)
        attributes = dict(vars(optimizer))
        schedule_state = schedule.state_dict() if hasattr(schedule, "state_dict") else None
        streams = [(stream, stream.state_dict()) for stream in self._random_streams()]
        rng_state, history = self.shuffle_rng.bit_generator.state, self.history

        def undo():
            restore_state(self.model, model_arrays)
            vars(optimizer).clear()
            vars(optimizer).update(attributes)
            if schedule_state is not None:
                schedule.load_state_dict(schedule_state)
            for stream, state in streams:
                stream.load_state_dict(state)
            self.shuffle_rng.bit_generator.state = rng_state
            self.history, self.initial_epoch, self.completed_epochs = history, 0, 0

        return undo

    def _restore_callbacks(self) -> None:
        """Saved callback state goes to the callback of the same class, in order (checked in
        ``restore``); it is loaded after ``on_train_begin``, which would otherwise reset it."""
        for callback, state in self._saved_callbacks:
            callback.load_state_dict(state)

    # -- the loop
    def run(self, X, y, validation, weights=None) -> History:
        """Train on checked arrays; ``validation`` is None or (X, y, weights or None). Training
        that ends by an exception (a callback's, Ctrl-C) lets every callback ``release`` what
        it took (the monitor's forward hooks, an open log file) before the exception goes on."""
        try:
            self._train(X, y, validation, weights)
        except BaseException:
            for callback in self.callbacks:
                callback.release()
            raise
        self._call("on_train_end", {})
        return self.history

    def _train(self, X, y, validation, weights) -> None:
        params = self.model.parameters()
        xp = namespace_of(X=X)
        samples = X.shape[0]
        step = self.batch_size or samples
        try:
            self._call("on_train_begin", {})
            self._restore_callbacks()
        except BaseException:
            if self._undo is not None:  # a resumed run: leave everything as before the resume
                self._undo()
            raise
        self._undo = None
        strategy = self.strategy
        take_step, step_metrics = train_step, self.metrics
        if strategy is not None:  # rank 0's state everywhere; its callbacks alone print and write
            strategy.begin(self)
            # a step on this process's share: its outputs are not the batch's, so the metrics
            # are computed from all processes' outputs at the end of the epoch
            take_step, step_metrics = strategy.fit_step, ()
        if self.on_start is not None:
            self.on_start()
        batch_listeners = [c for c in self.callbacks if type(c).on_batch_end is not Callback.on_batch_end]
        for epoch in range(self.initial_epoch, self.epochs):
            if self.stop_training:
                break
            self.optimizer.set_epoch(epoch)
            self._call("on_epoch_begin", epoch, {})
            if self.shuffle:
                order = asarray_like(self.shuffle_rng.permutation(samples), like=X)
                X_epoch, y_epoch = xp.take(X, order, axis=0), xp.take(y, order, axis=0)
                w_epoch = None if weights is None else xp.take(weights, order, axis=0)
            else:
                X_epoch, y_epoch, w_epoch = X, y, weights
            for metric in self.metrics:
                metric.reset()
            if self.guard is not None:
                self.guard.begin_epoch()
            bounds, values, batch_weights = batch_bounds(samples, step), [], []
            for batch, (start, stop) in enumerate(bounds):
                xb, yb = X_epoch[start:stop, ...], y_epoch[start:stop, ...]
                wb = None if w_epoch is None else w_epoch[start:stop]
                out, value = take_step(self.model, self.loss, self.optimizer, xb, yb, params, wb)
                values.append(value)
                if wb is not None:
                    batch_weights.append(xp.sum(wb))
                for metric in step_metrics:
                    metric.update(out, yb)
                for callback in batch_listeners:  # most runs have none: no logs dict to build
                    callback.on_batch_end(batch, {"loss": value, "size": stop - start})
            if strategy is not None:  # reduced over the processes, the same on each
                logs = strategy.epoch_logs(self, y_epoch, bounds, validation)
                if self.guard is not None:  # the same logs and weights on every process: the same decision
                    self.guard.end_epoch(epoch, logs["loss"], (X_epoch, y_epoch, w_epoch), bounds)
            else:
                logs = {"loss": mean_loss(xp, values, bounds, samples, batch_weights)}  # the one host read
                if self.guard is not None:  # NaN or inf: stop, with the weights from before the step that made it
                    self.guard.end_epoch(epoch, logs["loss"], (X_epoch, y_epoch, w_epoch), bounds)
                logs.update({metric.name: metric.result() for metric in self.metrics})
                if validation is not None:
                    X_val, y_val, w_val = validation
                    logs.update({f"val_{k}": v for k, v in evaluate_arrays(
                        self.model, X_val, y_val, self.loss, self.metrics, self.batch_size, w_val).items()})
            self.history.append(epoch, logs)
            self.completed_epochs = epoch + 1
            self.optimizer.on_epoch_end(epoch, logs)
            self._call("on_epoch_end", epoch, logs)
            if strategy is not None:  # rank 0 decides, so that no process trains on alone
                strategy.agree_on_stop(self)

    def _call(self, hook: str, *args) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(*args)


def _checked_history(saved, corrupted) -> History:
    """A History from a checkpoint, its structure checked: {key: [numbers]} with one number
    per epoch, the epochs ints, the stop reason text or None."""
    if not isinstance(saved, dict) or set(saved) - {"history", "epoch", "stop_reason", "diagnostics"}:
        raise corrupted("history", "must be a dict with 'history', 'epoch', 'stop_reason' and 'diagnostics'")
    epochs, logs, reason = saved.get("epoch") or [], saved.get("history") or {}, saved.get("stop_reason")
    if not isinstance(epochs, list) or not all(isinstance(e, int) and not isinstance(e, bool) and e >= 0
                                               for e in epochs):
        raise corrupted("history: epoch", "must be a list of ints >= 0")
    if not isinstance(logs, dict):
        raise corrupted("history: history", "must be a dict of lists")
    for key, values in logs.items():
        if not isinstance(values, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                   for v in values):
            raise corrupted(f"history: {key}", "must be a list of numbers")
    if reason is not None and not isinstance(reason, str):
        raise corrupted("history: stop_reason", f"must be text or None, got {type(reason).__name__}")
    return History(logs, epochs, reason, checked_diagnostics(saved.get("diagnostics", {}), corrupted))


def batch_bounds(samples: int, step: int):
    """(start, stop) of each batch; the last may be short. Stops never pass the end: the array
    API leaves out-of-range slice bounds unspecified."""
    return [(start, min(start + step, samples)) for start in range(0, samples, step)]


def mean_loss(xp, values, bounds, samples, batch_weights=()) -> float:
    """The mean of per-batch mean losses weighted by batch size, read from the device in one
    transfer; with ``batch_weights`` (each batch's sum of sample weights) weighted by those.

    The sum runs on the host in float64 in batch order: the same numbers a running float64 sum
    on the device gives, without a cast and two scalar operations per batch."""
    if batch_weights:
        both = to_numpy(xp.astype(xp.stack([xp.stack(values), xp.stack(batch_weights)]), xp.float64))
        host, sizes = both[0].tolist(), both[1].tolist()
        samples = sum(sizes)
    else:
        host = to_numpy(xp.astype(xp.stack(values), xp.float64)).tolist()
        sizes = [stop - start for start, stop in bounds]
    weighted = [value * size for value, size in zip(host, sizes)]
    total = weighted[0]  # not 0.0 + ...: a loss of -0.0 stays -0.0, as it did on the device
    for value in weighted[1:]:
        total += value
    return total / samples


def evaluate_arrays(model, X, y, loss, metric_list, batch_size, weights=None) -> dict:
    """Mean loss (weighted by ``weights`` when given) and metrics over checked, on-backend
    arrays, in inference mode."""
    xp = namespace_of(X=X)
    samples = X.shape[0]
    step = batch_size or samples
    for metric in metric_list:
        metric.reset()
    bounds, values, batch_weights = batch_bounds(samples, step), [], []
    for start, stop in bounds:
        xb, yb = X[start:stop, ...], y[start:stop, ...]
        out = model(xb)
        if weights is None:
            values.append(loss(out, yb))
        else:
            values.append(loss(out, yb, weights[start:stop]))
            batch_weights.append(xp.sum(weights[start:stop]))
        for metric in metric_list:
            metric.update(out, yb)
    results = {"loss": mean_loss(xp, values, bounds, samples, batch_weights)}
    results.update({metric.name: metric.result() for metric in metric_list})
    return results


# ---------------------------------------------------------------- argument checks

def _shuffle_generator(seed, where: str):
    try:
        if seed is None:
            return rng(int(rng().integers(2**63)))
        return rng(seed)
    except TypeError as error:
        raise TypeError(f"{where}: seed: {error}") from None


def checked_pair(model, X, y, loss, where: str, names=("X", "y"), sample_weight=None, class_weight=None):
    """X, y and the per-sample weights (None without ``sample_weight`` and ``class_weight``)
    on the backend, in the model's dtype, checked against each other, the model (one sample
    is run through it) and the loss."""
    dtype = data.model_dtype(model)
    X = data.features(X, names[0], where, dtype, data.input_width(model))
    probe = data.probe_output(model, X, where)
    outputs = probe.shape[-1] if probe.ndim > 1 else 1
    y = data.targets(y, names[1], where, samples=X.shape[0], loss=loss, outputs=outputs, dtype=probe.dtype)
    try:
        loss.forward(probe, y[:1, ...])
    except (ValueError, TypeError) as error:
        # the loss saw one sample of each: give the whole shapes, and the likely fix for labels
        hint = ""
        if loss.target_kind == "values" and y.ndim == 1 and outputs > 1 and dtype_is(
                namespace_of(y=y), y.dtype, "integral"):
            hint = " (class labels? use loss='cross_entropy', or one-hot encode y)"
        raise ValueError(
            f"{where}: {names[1]} does not match the model's output for this loss: {names[1]} has shape "
            f"{tuple(y.shape)} and the model outputs {(X.shape[0], *probe.shape[1:])}{hint}; the loss "
            f"said: {error}") from None
    weights = sample_weights.checked(sample_weight, class_weight, y, loss, samples=X.shape[0], outputs=outputs,
                                     dtype=probe.dtype, where=where, arg=names[2] if len(names) > 2 else "sample_weight")
    return X, y, weights


# activations whose outputs are probabilities: what a loss on logits must not be given, and
# what a loss on probabilities needs (softmax rows for cross-entropy, any of them for BCE)
_PROBABILITY_OUTPUTS = {"binary": ("sigmoid", "hard_sigmoid", "softmax"), "class_labels": ("softmax",)}


def _final_layer(model):
    while isinstance(model, Sequential) and len(model):
        model = model[len(model) - 1]
    return model


def check_output_for_loss(model, loss, where: str) -> None:
    """Refuse a model whose final activation contradicts what ``loss`` takes: a sigmoid or
    softmax output fed to a loss on logits applies it twice (Keras's idiom
    ``activation="sigmoid"`` + ``"binary_crossentropy"`` would train on sigmoid(sigmoid(z))
    and stall), and a linear output fed to a loss on probabilities is clipped into [0, 1]
    without a word. Models whose last layer is not known to xpnn are not judged."""
    allowed = _PROBABILITY_OUTPUTS.get(loss.target_kind)
    if allowed is None or loss.prediction_kind not in ("logits", "probabilities"):
        return
    layer = _final_layer(model)
    if isinstance(layer, Activation):
        activation, removal = layer, f"the final {layer!r} layer"
    elif isinstance(getattr(layer, "activation", False), (Activation, type(None))):
        activation = layer.activation
        removal = activation is not None and f"activation={activation.function.name!r} from the last layer"
    else:
        return
    name = activation.function.name if activation is not None else "identity"
    owner = f"the model's last layer, {layer!r},"
    loss_name = type(loss).__name__
    if loss.prediction_kind == "logits" and name in ("sigmoid", "hard_sigmoid", "softmax"):
        raise ValueError(
            f"{where}: {owner} ends in {name}, but the loss {loss!r} takes logits (raw scores) and "
            f"applies its own {'sigmoid' if loss.target_kind == 'binary' else 'softmax'}: it would "
            f"be applied twice, and the loss could not get near 0. Remove {removal} (the stable "
            f"choice; xpnn.{type(activation).__name__}()(model.predict(X)) then gives "
            f"probabilities), or pass loss={loss_name}(from_logits=False)"
        )
    if loss.prediction_kind == "probabilities" and name not in allowed:
        raise ValueError(
            f"{where}: {owner} outputs {'raw values' if name == 'identity' else name + ' values'}, "
            f"but the loss {loss!r} takes probabilities (from_logits=False) and would clip them "
            f"into [0, 1]. Use {loss_name}(from_logits=True) on this output (the stable choice), "
            f"or end the model in {' or '.join(allowed)}"
        )


def fit(model, X, y, *, loss=None, optimizer=None, epochs: int = 1, batch_size: int | None = 32,
        shuffle: bool = True, validation_split: float = 0.0, validation_data=None,
        metrics="auto", callbacks=(), seed=None, verbose: int = 1, resume_from=None,
        sample_weight=None, class_weight=None, terminate_on_nan: bool = True, remember=None,
        distributed=None) -> History:
    """Train ``model`` (any Layer) on (X, y); see ``Model.fit`` for the arguments.
    ``remember(loss, optimizer, metric_list, input_shape)`` is called once every check has
    passed, before the first step (``Model`` keeps them as its training configuration)."""
    where = "fit"
    terminate_on_nan = check_bool(terminate_on_nan, "terminate_on_nan", where)
    if distributed is not None and distributed is not False:  # mpi4py only when asked for
        from ..distributed.data_parallel import check_distributed, data_parallel
        check_distributed(distributed, where)  # its type now; MPI starts once everything is checked
    epochs = check_int(epochs, "epochs", where, minimum=0)
    batch_size = check_optional_int(batch_size, "batch_size", where, minimum=1)
    validation_split = check_number(validation_split, "validation_split", where, low=0, high=1, high_open=True)
    shuffle = check_bool(shuffle, "shuffle", where)
    if verbose not in (0, 1, 2):
        raise ValueError(f"{where}: verbose must be 0 (silent), 1 (a line per epoch, with a bar on a terminal) or 2 (a line per epoch), got {verbose!r}")
    if isinstance(callbacks, Callback) or not isinstance(callbacks, (list, tuple, type(None))):
        hint = f"; wrap it in a list: callbacks=[{type(callbacks).__name__}(...)]" if isinstance(callbacks, Callback) else ""
        raise TypeError(f"{where}: callbacks must be a list of xpnn Callbacks, got {type(callbacks).__name__}{hint}")
    callbacks = list(callbacks or ())
    for index, callback in enumerate(callbacks):
        if not isinstance(callback, Callback):
            raise TypeError(f"{where}: callbacks[{index}] must be an xpnn Callback, got {type(callback).__name__}")
    checkpoint = read_file(resume_from, (CHECKPOINT_FORMAT,)) if resume_from is not None else None
    if loss is None:  # a resumed run may take the loss its checkpoint was written with
        saved = checkpoint.get("training") if checkpoint is not None else None
        if not isinstance(saved, dict):
            raise ValueError(f"{where}: loss is required (a name such as 'cross_entropy' or 'mse', or a Loss)"
                             + (f"; {resume_from} does not record one" if checkpoint is not None else ""))
        try:
            loss = losses.LOSSES.from_config(saved["loss"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{resume_from}: corrupted training configuration: {error}") from None
    try:
        loss = losses.get(loss)
    except (ValueError, TypeError) as error:
        raise type(error)(f"{where}: loss: {error}") from None
    metric_list = metrics_module.for_loss(metrics, loss, where)
    if optimizer is None:
        if checkpoint is None:
            raise ValueError(f"{where}: optimizer is required (a name such as 'adam' or an Optimizer)")
        optimizer = optim.optimizer_from_config(checkpoint["optimizer"])
    try:
        optimizer = optim.get(optimizer)
    except (ValueError, TypeError) as error:
        raise type(error)(f"{where}: optimizer: {error}") from None

    check_output_for_loss(model, loss, where)
    X, y, weights = checked_pair(model, X, y, loss, where, sample_weight=sample_weight, class_weight=class_weight)
    metrics_module.check_compatible(metric_list, loss, model(X[:1, ...]), where)
    validation = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError(f"{where}: validation_data must be a pair (X_val, y_val) or a triple "
                             f"(X_val, y_val, sample_weight_val), got {type(validation_data).__name__}"
                             + (f" of {len(validation_data)}" if isinstance(validation_data, (tuple, list)) else ""))
        # Keras's rule: validation samples are weighted only by weights given with them
        validation = checked_pair(model, *validation_data[:2], loss, where,
                                  names=("validation_data[0]", "validation_data[1]", "validation_data[2]"),
                                  sample_weight=validation_data[2] if len(validation_data) == 3 else None)
    elif validation_split:
        held_out = int(X.shape[0] * validation_split)
        if held_out == 0 or held_out == X.shape[0]:
            raise ValueError(f"{where}: validation_split={validation_split} of {X.shape[0]} samples leaves "
                             f"{held_out} for validation and {X.shape[0] - held_out} for training; both need at least one")
        # the LAST samples, before any shuffling, as Keras does: the split is the same every run
        # the held-out samples keep their sample_weight but not class_weight, as in Keras: the
        # validation loss is the plain (or sample-weighted) mean, what early stopping should watch
        held_weights = None
        if sample_weight is not None:
            held_weights = sample_weights.checked(sample_weight, None, y, loss, samples=X.shape[0], outputs=1,
                                                  dtype=weights.dtype, where=where)[-held_out:]
        validation = (X[-held_out:, ...], y[-held_out:, ...], held_weights)
        X, y = X[:-held_out, ...], y[:-held_out, ...]
        if weights is not None:
            weights = weights[:-held_out]
            if not bool(namespace_of(weights=weights).any(weights > 0)):
                raise ValueError(f"{where}: every training sample left by validation_split={validation_split} "
                                 "has weight 0 (sample_weight and class_weight)")

    step = batch_size or X.shape[0]
    smallest = min(step, X.shape[0] % step or step)
    needing_more = [layer for layer in model.walk() if layer.min_training_batch > smallest]
    if needing_more:
        layer = max(needing_more, key=lambda layer: layer.min_training_batch)
        batches = (f"gives batches of {step}" if smallest == step else
                   f"leaves a last batch of {smallest} sample{'s' * (smallest > 1)} out of {X.shape[0]} training samples")
        raise ValueError(
            f"{where}: batch_size={batch_size} {batches}, and {type(layer).__name__} needs at least "
            f"{layer.min_training_batch} per batch to train; choose another batch_size"
        )
    strategy = None
    if distributed is not None and distributed is not False:
        strategy = data_parallel(distributed, where)  # init(): MPI, the GPU, the abort hook
        strategy.check(model, X.shape[0], step, where)
    if verbose and not any(isinstance(c, ProgressBar) for c in callbacks):
        callbacks.append(ProgressBar(per_epoch_lines=verbose == 2))
    callbacks.sort(key=lambda c: c.order)  # stable: list order within one order value
    trainer = Trainer(model, loss, optimizer, metric_list, callbacks, epochs=epochs,
                      batch_size=batch_size, shuffle=shuffle, shuffle_rng=_shuffle_generator(seed, where),
                      has_validation=validation is not None,
                      steps_per_epoch=-(-X.shape[0] // step), verbose=verbose)
    trainer.strategy = strategy
    reporter = any(isinstance(c, TerminateOnNaN) for c in callbacks)
    if terminate_on_nan or reporter:
        # distributed: each process took only its share of a step, so the epoch is not replayed
        # step by step; the weights from the epoch's start are restored on every process alike
        trainer.guard = NonFiniteGuard(trainer, warn=not reporter, replay=strategy is None)
    for callback in callbacks:
        callback.set_trainer(trainer)
    check_optimizer_schedule(trainer)
    if checkpoint is not None:
        trainer.restore(checkpoint, resume_from)

    if remember is not None:  # once the callbacks' own checks passed too (Trainer.run)
        input_shape = tuple(X.shape[1:])
        trainer.on_start = lambda: remember(loss, optimizer, metric_list, input_shape)
    # the targets were checked once above: the steps skip the checks that read values back
    trainer.loss = loss.unchecked()
    return trainer.run(X, y, validation, weights)


def predict(model, X, *, batch_size: int | None = None):
    """The model's outputs for X (inference mode) as an array of the active backend."""
    batch_size = check_optional_int(batch_size, "batch_size", "predict", minimum=1)
    X = data.features(X, "X", "predict", data.model_dtype(model), data.input_width(model))
    data.probe_output(model, X, "predict")
    step = batch_size or X.shape[0]
    outputs = [model(X[start:stop, ...]) for start, stop in batch_bounds(X.shape[0], step)]
    return outputs[0] if len(outputs) == 1 else namespace_of(X=X).concat(outputs, axis=0)


def evaluate(model, X, y, *, loss, metrics="auto", batch_size: int | None = None, sample_weight=None) -> dict:
    """Mean loss and metrics on (X, y) in inference mode, as ``{"loss": ..., "accuracy": ...}``;
    with ``sample_weight`` the loss is the weighted mean (metrics are not weighted)."""
    where = "evaluate"
    batch_size = check_optional_int(batch_size, "batch_size", where, minimum=1)
    try:
        loss = losses.get(loss)
    except (ValueError, TypeError) as error:
        raise type(error)(f"{where}: loss: {error}") from None
    metric_list = metrics_module.for_loss(metrics, loss, where)
    check_output_for_loss(model, loss, where)
    X, y, weights = checked_pair(model, X, y, loss, where, sample_weight=sample_weight)
    metrics_module.check_compatible(metric_list, loss, model(X[:1, ...]), where)
    return evaluate_arrays(model, X, y, loss, metric_list, batch_size, weights)
