"""The fit loop: mini-batch gradient descent with validation, metrics, callbacks and resuming.

Every argument and every array is checked before the first step (``data.py``). Host data
moves to the active backend once; each epoch draws one shuffle permutation on the host and
gathers the data with it on the device. Losses and metrics are summed on the device and read
once per epoch, so a GPU is never made to wait inside an epoch. ``batch_size`` picks the
three flavours of gradient descent: the whole set (batch), 1 (stochastic) or in between.
"""

from __future__ import annotations

import warnings

from ..backend import asarray_like, namespace_of, rng, to_numpy
from ..nn import losses
from ..nn.layer import layer_config
from .. import optim
from ..utils.validation import check_int, check_number, check_optional_int
from . import data, metrics as metrics_module
from .callbacks import Callback, History, ProgressBar, restore_state, snapshot_state
from .checkpoint import CHECKPOINT_FORMAT, assign_model_state, model_state, read_file, write_file
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
        self._saved_callbacks = []

    def stop(self, reason: str) -> None:
        """Ask the loop to end after this epoch; ``history.stop_reason`` keeps why."""
        self.stop_training = True
        self.history.stop_reason = reason

    # -- checkpoints
    def _random_streams(self) -> list:
        return [stream for layer in self.model.walk() for stream in layer.random_streams()]

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
        }

    def save_checkpoint(self, path) -> None:
        """Everything needed to continue this run exactly, written atomically to ``path``."""
        write_file(path, CHECKPOINT_FORMAT, self.checkpoint_content())

    def restore(self, content: dict, path) -> None:
        """Continue from a checkpoint's content (``read_file``). On any problem the model is
        left exactly as it was and the error names the file."""
        snapshot = snapshot_state(self.model)
        try:
            self._restore(content, path)
        except KeyError as error:
            restore_state(self.model, snapshot)
            raise ValueError(f"{path}: corrupted checkpoint: it lacks {error}") from None
        except BaseException:
            restore_state(self.model, snapshot)
            raise

    def _restore(self, content: dict, path) -> None:
        streams = self._random_streams()
        saved_streams = content["layer_random"]
        if len(saved_streams) != len(streams):
            raise ValueError(f"{path}: does not match this model's architecture: it has "
                             f"{len(saved_streams)} random layers (dropout), the model {len(streams)}")
        saved_fit = content.get("fit", {})
        for key in ("batch_size", "shuffle"):
            if saved_fit.get(key) != getattr(self, key):
                warnings.warn(f"resuming from {path} with {key}={getattr(self, key)!r}, but the run was "
                              f"saved with {key}={saved_fit.get(key)!r}: it will not continue exactly",
                              RuntimeWarning, stacklevel=4)
        assign_model_state(self.model, content["state"], path)
        try:
            self.optimizer.load_state_dict(content["optimizer"], self.model.parameters())
        except (ValueError, TypeError) as error:
            raise ValueError(f"{path}: cannot resume with this optimizer: {error}") from None
        for stream, state in zip(streams, saved_streams):
            try:
                stream.load_state_dict(state)
            except ValueError as error:
                raise ValueError(f"{path}: corrupted checkpoint: layer_random: {error}") from None
        self.shuffle_rng.bit_generator.state = content["shuffle_rng"]
        self.history = History(**content["history"])
        # a run that had already stopped (early stopping, NaN) stays stopped, as it would have
        # without the interruption; on_train_end still runs (restoring the best weights)
        self.stop_training = self.history.stop_reason is not None
        self.initial_epoch = self.completed_epochs = int(content["epoch"])
        self._saved_callbacks = content["callbacks"]

    def _restore_callbacks(self) -> None:
        """Saved callback state goes to the callback of the same class, in order; it is loaded
        after ``on_train_begin``, which would otherwise reset it."""
        saved = {}
        for entry in self._saved_callbacks:
            saved.setdefault(entry["class"], []).append(entry["state"])
        for callback in self.callbacks:
            states = saved.get(type(callback).__name__)
            if states:
                callback.load_state_dict(states.pop(0))

    # -- the loop
    def run(self, X, y, validation) -> History:
        params = self.model.parameters()
        xp = namespace_of(X=X)
        samples = X.shape[0]
        step = self.batch_size or samples
        self._call("on_train_begin", {})
        self._restore_callbacks()
        batch_listeners = [c for c in self.callbacks if type(c).on_batch_end is not Callback.on_batch_end]
        for epoch in range(self.initial_epoch, self.epochs):
            if self.stop_training:
                break
            self.optimizer.set_epoch(epoch)
            self._call("on_epoch_begin", epoch, {})
            if self.shuffle:
                order = asarray_like(self.shuffle_rng.permutation(samples), like=X)
                X_epoch, y_epoch = xp.take(X, order, axis=0), xp.take(y, order, axis=0)
            else:
                X_epoch, y_epoch = X, y
            for metric in self.metrics:
                metric.reset()
            bounds, values = batch_bounds(samples, step), []
            for batch, (start, stop) in enumerate(bounds):
                xb, yb = X_epoch[start:stop, ...], y_epoch[start:stop, ...]
                out, value = train_step(self.model, self.loss, self.optimizer, xb, yb, params)
                values.append(value)
                for metric in self.metrics:
                    metric.update(out, yb)
                for callback in batch_listeners:  # most runs have none: no logs dict to build
                    callback.on_batch_end(batch, {"loss": value, "size": stop - start})
            logs = {"loss": mean_loss(xp, values, bounds, samples)}  # the one host read of the epoch
            logs.update({metric.name: metric.result() for metric in self.metrics})
            if validation is not None:
                logs.update({f"val_{k}": v for k, v in evaluate_arrays(self.model, *validation, self.loss,
                                                                      self.metrics, self.batch_size).items()})
            self.history.append(epoch, logs)
            self.completed_epochs = epoch + 1
            self.optimizer.on_epoch_end(epoch, logs)
            self._call("on_epoch_end", epoch, logs)
        self._call("on_train_end", {})
        return self.history

    def _call(self, hook: str, *args) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(*args)


def batch_bounds(samples: int, step: int):
    """(start, stop) of each batch; the last may be short. Stops never pass the end: the array
    API leaves out-of-range slice bounds unspecified."""
    return [(start, min(start + step, samples)) for start in range(0, samples, step)]


def mean_loss(xp, values, bounds, samples) -> float:
    """The sample-weighted mean of per-batch mean losses, read from the device in one transfer.

    The sum runs on the host in float64 in batch order: the same numbers a running float64 sum
    on the device gives, without a cast and two scalar operations per batch."""
    host = to_numpy(xp.astype(xp.stack(values), xp.float64)).tolist()
    weighted = [value * (stop - start) for value, (start, stop) in zip(host, bounds)]
    total = weighted[0]  # not 0.0 + ...: a loss of -0.0 stays -0.0, as it did on the device
    for value in weighted[1:]:
        total += value
    return total / samples


def evaluate_arrays(model, X, y, loss, metric_list, batch_size) -> dict:
    """Mean loss and metrics over checked, on-backend arrays, in inference mode."""
    xp = namespace_of(X=X)
    samples = X.shape[0]
    step = batch_size or samples
    for metric in metric_list:
        metric.reset()
    bounds, values = batch_bounds(samples, step), []
    for start, stop in bounds:
        xb, yb = X[start:stop, ...], y[start:stop, ...]
        out = model(xb)
        values.append(loss(out, yb))
        for metric in metric_list:
            metric.update(out, yb)
    results = {"loss": mean_loss(xp, values, bounds, samples)}
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


def checked_pair(model, X, y, loss, where: str, names=("X", "y")):
    """X and y on the backend, in the model's dtype, checked against each other, the model
    (one sample is run through it) and the loss."""
    dtype = data.model_dtype(model)
    X = data.features(X, names[0], where, dtype)
    probe = data.probe_output(model, X, where)
    outputs = probe.shape[-1] if probe.ndim > 1 else 1
    y = data.targets(y, names[1], where, samples=X.shape[0], loss=loss, outputs=outputs, dtype=probe.dtype)
    try:
        loss.forward(probe, y[:1, ...])
    except (ValueError, TypeError) as error:
        raise ValueError(f"{where}: {names[1]} does not match the model's output for this loss: {error}") from None
    return X, y


def fit(model, X, y, *, loss, optimizer=None, epochs: int = 1, batch_size: int | None = 32,
        shuffle: bool = True, validation_split: float = 0.0, validation_data=None,
        metrics="auto", callbacks=(), seed=None, verbose: int = 1, resume_from=None) -> History:
    """Train ``model`` (any Layer) on (X, y); see ``Model.fit`` for the arguments."""
    where = "fit"
    epochs = check_int(epochs, "epochs", where, minimum=0)
    batch_size = check_optional_int(batch_size, "batch_size", where, minimum=1)
    validation_split = check_number(validation_split, "validation_split", where, low=0, high=1, high_open=True)
    if verbose not in (0, 1, 2):
        raise ValueError(f"{where}: verbose must be 0 (silent), 1 (progress bar) or 2 (a line per epoch), got {verbose!r}")
    callbacks = list(callbacks or ())
    for index, callback in enumerate(callbacks):
        if not isinstance(callback, Callback):
            raise TypeError(f"{where}: callbacks[{index}] must be an xpnn Callback, got {type(callback).__name__}")
    try:
        loss = losses.get(loss)
    except (ValueError, TypeError) as error:
        raise type(error)(f"{where}: loss: {error}") from None
    metric_list = metrics_module.for_loss(metrics, loss, where)
    checkpoint = read_file(resume_from, (CHECKPOINT_FORMAT,)) if resume_from is not None else None
    if optimizer is None:
        if checkpoint is None:
            raise ValueError(f"{where}: optimizer is required (a name such as 'adam' or an Optimizer)")
        optimizer = optim.optimizer_from_config(checkpoint["optimizer"])
    try:
        optimizer = optim.get(optimizer)
    except (ValueError, TypeError) as error:
        raise type(error)(f"{where}: optimizer: {error}") from None

    X, y = checked_pair(model, X, y, loss, where)
    metrics_module.check_compatible(metric_list, loss, model(X[:1, ...]), where)
    validation = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError(f"{where}: validation_data must be a pair (X_val, y_val), got {type(validation_data).__name__}")
        validation = checked_pair(model, *validation_data, loss, where,
                                  names=("validation_data[0]", "validation_data[1]"))
    elif validation_split:
        held_out = int(X.shape[0] * validation_split)
        if held_out == 0 or held_out == X.shape[0]:
            raise ValueError(f"{where}: validation_split={validation_split} of {X.shape[0]} samples leaves "
                             f"{held_out} for validation and {X.shape[0] - held_out} for training; both need at least one")
        # the LAST samples, before any shuffling, as Keras does: the split is the same every run
        validation = (X[-held_out:, ...], y[-held_out:, ...])
        X, y = X[:-held_out, ...], y[:-held_out, ...]

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
    if verbose and not any(isinstance(c, ProgressBar) for c in callbacks):
        callbacks.append(ProgressBar(per_epoch_lines=verbose == 2))
    callbacks.sort(key=lambda c: c.order)  # stable: list order within one order value
    trainer = Trainer(model, loss, optimizer, metric_list, callbacks, epochs=epochs,
                      batch_size=batch_size, shuffle=bool(shuffle), shuffle_rng=_shuffle_generator(seed, where),
                      has_validation=validation is not None,
                      steps_per_epoch=-(-X.shape[0] // step), verbose=verbose)
    for callback in callbacks:
        callback.set_trainer(trainer)
    if checkpoint is not None:
        trainer.restore(checkpoint, resume_from)

    # the targets were checked once above: the steps skip the checks that read values back
    trainer.loss = loss.unchecked()
    return trainer.run(X, y, validation)


def predict(model, X, *, batch_size: int | None = None):
    """The model's outputs for X (inference mode) as an array of the active backend."""
    batch_size = check_optional_int(batch_size, "batch_size", "predict", minimum=1)
    X = data.features(X, "X", "predict", data.model_dtype(model))
    data.probe_output(model, X, "predict")
    step = batch_size or X.shape[0]
    outputs = [model(X[start:stop, ...]) for start, stop in batch_bounds(X.shape[0], step)]
    return outputs[0] if len(outputs) == 1 else namespace_of(X=X).concat(outputs, axis=0)


def evaluate(model, X, y, *, loss, metrics="auto", batch_size: int | None = None) -> dict:
    """Mean loss and metrics on (X, y) in inference mode, as ``{"loss": ..., "accuracy": ...}``."""
    where = "evaluate"
    batch_size = check_optional_int(batch_size, "batch_size", where, minimum=1)
    try:
        loss = losses.get(loss)
    except (ValueError, TypeError) as error:
        raise type(error)(f"{where}: loss: {error}") from None
    metric_list = metrics_module.for_loss(metrics, loss, where)
    X, y = checked_pair(model, X, y, loss, where)
    metrics_module.check_compatible(metric_list, loss, model(X[:1, ...]), where)
    return evaluate_arrays(model, X, y, loss, metric_list, batch_size)
