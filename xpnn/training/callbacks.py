"""Hooks into the fit loop: early stopping, checkpoints, learning-rate changes, NaN guard,
progress output, a CSV log.

A callback sees the running ``Trainer`` as ``self.trainer`` (its model, optimizer, history,
``stop_training``). Hooks run in ``order`` (lower first, then list order): the NaN guard looks
at an epoch before anyone else, checkpoints are written after every other callback has
updated its state, so a checkpoint resumes exactly. Per-batch ``logs["loss"]`` is a 0-d
DEVICE array: reading it (``float``) makes a GPU wait, so callbacks do that rarely.

Hooks receive 0-based epoch indices (as ``History.epoch`` and Keras's hooks do); every message
meant for a person counts epochs from 1 (``Epoch 3/20``), as Keras prints them.
"""

from __future__ import annotations

import copy
import csv
import math
import numbers
import os
import sys
import time
import warnings

from ..backend import (
    asarray_like, check_not_read_only, copy_of, host_namespace, is_array, same_file, to_numpy, write_atomically,
)
from ..optim import schedules
from ..utils.validation import check_bool, check_choice, check_int, check_monitor, check_number, check_optional_number
from .checkpoint import save_model


class Callback:
    order = 0

    def __init__(self):
        self.trainer = None

    def set_trainer(self, trainer) -> None:
        self.trainer = trainer

    def on_train_begin(self, logs=None): ...
    def on_epoch_begin(self, epoch: int, logs=None): ...
    def on_batch_end(self, batch: int, logs=None): ...
    def on_epoch_end(self, epoch: int, logs=None): ...
    def on_train_end(self, logs=None): ...

    def release(self) -> None:
        """Let go of what ``on_train_begin`` took (forward hooks, open files). ``fit`` calls it
        when training ends by an exception, where ``on_train_end`` does not run; a callback
        whose ``on_train_end`` lets go calls it from there too. Must not raise."""

    def end_note(self) -> str | None:
        """A short clause for the progress output's final line saying what this callback did
        at the end of training (``"restored the weights of epoch 7 ..."``), or None."""
        return None

    def state_dict(self) -> dict:
        """What a checkpoint must hold for a resumed run to behave as if never stopped."""
        return {}

    def check_state(self, state: dict) -> None:
        """Raise ValueError or TypeError when ``state`` is not one ``load_state_dict`` can take;
        change nothing. A resume checks every callback's state before it changes anything."""

    def load_state_dict(self, state: dict) -> None:
        self.check_state(state)


class History:
    """Per-epoch logs: ``history.history["loss"]``, ``["val_loss"]``, ``["accuracy"]``...;
    ``epoch`` lists the epoch indices, 0-based as Keras's ``History.epoch`` (the first epoch is
    0, printed as ``Epoch 1/n``); ``stop_reason`` says why training ended early (None when it
    ran all its epochs), counting epochs from 1 as the printed lines do.

    ``diagnostics`` is what a ``TrainingMonitor`` recorded, ``{}`` when none ran:
    ``{"layers": [description per top-level layer], "epoch": [0, 1, ...], "grad_norm":
    [[one float per layer] per epoch], "grad_ratio": ..., "update_ratio": ...,
    "dead_fraction": ..., "saturated_fraction": ..., "activation_mean": ...,
    "activation_std": ...}``, NaN where a statistic does not apply to a layer (see
    ``xpnn.diagnostics.TrainingMonitor``). Checkpoints save it with the logs."""

    def __init__(self, history=None, epoch=None, stop_reason=None, diagnostics=None):
        self.history: dict[str, list[float]] = {k: list(v) for k, v in (history or {}).items()}
        self.epoch: list[int] = list(epoch or [])
        self.stop_reason: str | None = stop_reason
        self.diagnostics: dict = dict(diagnostics or {})

    def append(self, epoch: int, logs: dict) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __getitem__(self, key):
        return self.history[key]

    def state_dict(self) -> dict:
        return {"history": self.history, "epoch": self.epoch, "stop_reason": self.stop_reason,
                "diagnostics": self.diagnostics}

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={sorted(self.history)})"


def _better_function(monitor: str, mode: str, where: str):
    check_choice(mode, "mode", where, ("auto", "min", "max"))
    if mode == "auto":
        mode = "max" if any(word in monitor for word in ("acc", "r2")) else "min"
    return mode, (lambda a, b: a > b) if mode == "max" else (lambda a, b: a < b)


def _monitored(logs: dict, monitor: str, where: str) -> float:
    if monitor not in logs:
        raise ValueError(
            f"{where}: monitor={monitor!r} is not among this epoch's logs: {', '.join(sorted(logs))}"
        )
    return logs[monitor]


def _require_validation_for(monitor: str, trainer, where: str) -> None:
    """Refuse, before the first step, a monitor that no epoch will log: a ``val_`` value
    without validation data, or a name that is neither the loss nor a metric of this fit
    (unless a callback of the user's own may add it to the logs)."""
    if monitor.startswith("val_") and not trainer.has_validation:
        raise ValueError(
            f"{where}: monitor={monitor!r} needs validation data; pass validation_data=(X, y) or "
            f"validation_split to fit, or monitor a training value such as 'loss'"
        )
    keys = trainer.log_keys()
    users_own = [c for c in trainer.callbacks if type(c).__module__ != __name__]
    if monitor not in keys and not users_own:
        raise ValueError(f"{where}: monitor={monitor!r} is not a value this fit logs; it logs "
                         f"{', '.join(map(repr, keys))}")


def _check_state_keys(state, keys) -> None:
    if not isinstance(state, dict):
        raise TypeError(f"the state must be a dict, got {type(state).__name__}")
    missing = [key for key in keys if key not in state]
    if missing:
        raise ValueError(f"the state lacks {', '.join(map(repr, missing))}")


def _check_state_number(state, key) -> None:
    value = state[key]
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise ValueError(f"{key!r} must be a number, got {value!r:.40}")


def _check_state_count(state, key) -> None:
    value = state[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key!r} must be an int >= 0, got {value!r:.40}")


def _refuse_the_models_own_file(path, trainer, where: str, what: str) -> None:
    """A callback must not write over the file the model being trained was loaded from
    (``xpnn.load`` records it), before the first step: the user's saved model would be gone."""
    source = getattr(trainer.model, "loaded_from", None)
    if source and os.path.exists(source) and same_file(source, path):
        raise ValueError(f"{where}: {path} is the file this model was loaded from; {what} written there "
                         "would replace the saved model: give another path")


def checked_file_path(path, where: str, *, template: bool = False) -> str:
    """A path a callback will write to, checked when the callback is made rather than after
    an epoch of training: a str or os.PathLike (TypeError), not a directory
    (IsADirectoryError), in a folder that exists (FileNotFoundError), not a read-only file and
    in a folder it may write in (PermissionError). ``template=True``: parts
    with ``{...}`` fields are filled in later and not checked."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{where}: path must be a str or os.PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    if not isinstance(path, str):
        raise TypeError(f"{where}: path must name a file as text, got {type(path).__name__}")
    filled_later = template and "{" in path
    if not filled_later and os.path.isdir(path):
        raise IsADirectoryError(f"{where}: path {path!r} is a directory; give a file name")
    if not filled_later:
        try:
            check_not_read_only(path)
        except PermissionError as error:
            raise PermissionError(f"{where}: {error}") from None
    folder = os.path.dirname(os.path.abspath(path))
    if not (template and "{" in folder) and not os.path.isdir(folder):
        raise FileNotFoundError(f"{where}: path {path!r}: folder {folder!r} does not exist")
    if not (template and "{" in folder) and not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"{where}: path {path!r}: no permission to create files in {folder!r}")
    return path


def check_optimizer_schedule(trainer) -> None:
    """Refuse, before training, a schedule in the optimizer's lr that monitors a validation
    value (``ReduceOnPlateau(monitor="val_loss")``) in a fit without validation data: it would
    otherwise fail only after the first epoch."""
    optimizer = trainer.optimizer
    schedule = optimizer.lr
    if isinstance(schedule, schedules.Schedule) and schedule.monitor:
        _require_validation_for(schedule.monitor, trainer,
                                f"fit: {type(optimizer).__name__}(lr={type(schedule).__name__})")


def snapshot_state(model) -> list:
    """Device copies of every parameter and buffer: cheap to take, never leaves the device."""
    return [copy_of(held.value) for _, held in model.named_state()]


def restore_state(model, snapshot: list) -> None:
    for (_, held), saved in zip(model.named_state(), snapshot):
        held.value = copy_of(saved)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs. ``restore_best_weights`` leaves the model with the weights of its best epoch at
    the end of training (whether it stopped early or ran out of epochs)."""

    def __init__(self, monitor: str = "val_loss", *, patience: int = 0, min_delta: float = 0.0,
                 mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = True, start_from_epoch: int = 0):
        super().__init__()
        where = "EarlyStopping"
        self.monitor = check_monitor(monitor, where)
        self.patience = check_int(patience, "patience", where, minimum=0)
        self.min_delta = check_number(min_delta, "min_delta", where, low=0)
        self.mode, self._better = _better_function(monitor, mode, where)
        self.baseline = check_optional_number(baseline, "baseline", where)
        self.restore_best_weights = check_bool(restore_best_weights, "restore_best_weights", where)
        self.start_from_epoch = check_int(start_from_epoch, "start_from_epoch", where, minimum=0)
        self._reset()

    def _reset(self):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch, self.wait, self.stopped_epoch = None, 0, None
        self.best_weights = None
        self.restored_epoch = None

    def _improves(self, current: float, reference: float) -> bool:
        shift = -self.min_delta if self.mode == "min" else self.min_delta
        return self._better(current, reference + shift)

    def on_train_begin(self, logs=None):
        _require_validation_for(self.monitor, self.trainer, "EarlyStopping")
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        current = _monitored(logs, self.monitor, "EarlyStopping")
        if epoch < self.start_from_epoch or not math.isfinite(current):
            return
        self.wait += 1
        if self._improves(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = snapshot_state(self.trainer.model)
            if self.baseline is None or self._improves(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.trainer.stop(f"EarlyStopping: {self.monitor} did not improve for {self.wait} "
                              f"epochs (best {self.best:#.4g} at epoch {self.best_epoch + 1})")

    def on_train_end(self, logs=None):
        last = self.trainer.history.epoch[-1] if self.trainer.history.epoch else None
        if self.restore_best_weights and self.best_weights is not None and self.best_epoch != last:
            restore_state(self.trainer.model, self.best_weights)
            self.restored_epoch = self.best_epoch

    def end_note(self):
        if self.restored_epoch is None:
            return None
        if self.stopped_epoch is not None:  # its stop reason already names the best epoch
            return f"weights of epoch {self.restored_epoch + 1} restored"
        return (f"EarlyStopping restored the weights of epoch {self.restored_epoch + 1} "
                f"(best {self.monitor}: {self.best:#.4g})")

    def state_dict(self) -> dict:
        return {
            "best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
            "best_weights": None if self.best_weights is None else [to_numpy(w) for w in self.best_weights],
        }

    def check_state(self, state: dict) -> None:
        _check_state_keys(state, ("best", "best_epoch", "wait", "best_weights"))
        _check_state_number(state, "best")
        _check_state_count(state, "wait")
        if state["best_epoch"] is not None:
            _check_state_count(state, "best_epoch")
        saved = state["best_weights"]
        if saved is None:
            return
        named = self.trainer.model.named_state()
        if not isinstance(saved, list) or len(saved) != len(named):
            raise ValueError(f"best_weights must be a list of {len(named)} arrays, one per model array")
        host = host_namespace()
        for (name, held), array in zip(named, saved):
            if not is_array(array) or tuple(array.shape) != held.shape:
                shape = tuple(array.shape) if is_array(array) else type(array).__name__
                raise ValueError(f"best_weights for {name!r}: expected shape {held.shape}, got {shape}")
            if not host.isdtype(array.dtype, "real floating"):
                raise ValueError(f"best_weights for {name!r}: expected floats, got dtype {array.dtype}")

    def load_state_dict(self, state: dict) -> None:
        self.check_state(state)
        self.best, self.best_epoch, self.wait = float(state["best"]), state["best_epoch"], state["wait"]
        saved = state["best_weights"]
        if saved is not None:
            held = [h for _, h in self.trainer.model.named_state()]
            self.best_weights = [asarray_like(w, like=h.value) for w, h in zip(saved, held)]


class ModelCheckpoint(Callback):
    """Write a full training checkpoint (weights, optimizer, schedule, epoch, random state,
    callback state) at the end of each epoch, atomically; ``fit(resume_from=path)`` continues
    from it. ``path`` may use ``{epoch}`` (1-based) and log keys (``{val_loss:.3f}``).
    ``save_best_only`` writes only when ``monitor`` improves; ``save_weights_only`` writes a
    model file (``xpnn.load``) instead. The path is checked when the callback is made (the parts
    without ``{...}`` fields): TypeError for a non-path, IsADirectoryError for a directory,
    FileNotFoundError for a missing folder."""

    order = 10

    def __init__(self, path, *, monitor: str = "val_loss", save_best_only: bool = False,
                 mode: str = "auto", save_weights_only: bool = False):
        super().__init__()
        self.path = checked_file_path(path, "ModelCheckpoint", template=True)
        self.monitor = check_monitor(monitor, "ModelCheckpoint")
        self.save_best_only = check_bool(save_best_only, "save_best_only", "ModelCheckpoint")
        self.mode, self._better = _better_function(monitor, mode, "ModelCheckpoint")
        self.save_weights_only = check_bool(save_weights_only, "save_weights_only", "ModelCheckpoint")
        self.best = math.inf if self.mode == "min" else -math.inf
        self.last_path = None

    def on_train_begin(self, logs=None):
        if self.save_best_only:
            _require_validation_for(self.monitor, self.trainer, "ModelCheckpoint")
        if "{" not in self.path:
            _refuse_the_models_own_file(self.path, self.trainer, "ModelCheckpoint", "checkpoints")
        elif not any(type(c).__module__ != __name__ for c in self.trainer.callbacks):
            # fill the template once with stand-in values, before the first step rather than
            # after an epoch of training (a user's callback may log more keys: then at the end)
            try:
                self.path.format(epoch=1, **{key: 0.0 for key in self.trainer.log_keys()})
            except (KeyError, IndexError, ValueError) as error:
                raise ValueError(f"ModelCheckpoint: cannot fill in path {self.path!r}: {error!r}; it may use "
                                 f"{{epoch}} and {', '.join('{' + k + '}' for k in self.trainer.log_keys())}") from None

    def on_epoch_end(self, epoch, logs=None):
        if self.save_best_only:
            current = _monitored(logs, self.monitor, "ModelCheckpoint")
            if not self._better(current, self.best):
                return
            self.best = current
        try:
            path = self.path.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(f"ModelCheckpoint: cannot fill in path {self.path!r}: {error!r}") from None
        if path != self.path:  # a filled-in template: it may name the file the model came from
            _refuse_the_models_own_file(path, self.trainer, "ModelCheckpoint", "checkpoints")
        if self.save_weights_only:
            save_model(self.trainer.model, path)
        else:
            self.trainer.save_checkpoint(path)
        self.last_path = path

    def state_dict(self) -> dict:
        return {"best": self.best}

    def check_state(self, state: dict) -> None:
        _check_state_keys(state, ("best",))
        _check_state_number(state, "best")

    def load_state_dict(self, state: dict) -> None:
        self.check_state(state)
        self.best = float(state["best"])


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at the start of each epoch from ``schedule``: a
    ``Schedule`` instance (``schedule(epoch)``, epoch 0-based) or a function
    ``(epoch, lr) -> new lr`` as in Keras.

    A schedule that reacts to the metrics (``ReduceOnPlateau``) sees each epoch's logs at its
    end, exactly as it does when given as ``SGD(lr=schedule)``: the same rates epoch for epoch,
    and its state (best value, wait, current rate) goes into checkpoints. ``verbose=True``
    prints the rate set at each epoch.

    Raises TypeError for a schedule that is neither (a Schedule class needs its arguments:
    ``ReduceOnPlateau(0.1)``). At the start of training it refuses (ValueError) what would
    otherwise do nothing or be undone: an optimizer whose ``lr`` is itself a Schedule (this
    callback would overwrite it; give the schedule to one of them), or a schedule that
    monitors ``val_...`` in a fit without validation data.
    """

    def __init__(self, schedule, *, verbose: bool = False):
        super().__init__()
        if isinstance(schedule, type) or not callable(schedule):
            what = f"the class {schedule.__name__}" if isinstance(schedule, type) else type(schedule).__name__
            raise TypeError(f"LearningRateScheduler: schedule must be a Schedule instance (such as "
                            f"schedules.StepDecay(0.1)) or a function (epoch, lr) -> lr, got {what}")
        self.schedule, self.verbose = schedule, check_bool(verbose, "verbose", "LearningRateScheduler")

    def on_train_begin(self, logs=None):
        where = "LearningRateScheduler"
        held = self.trainer.optimizer.lr
        if isinstance(held, schedules.Schedule):
            raise ValueError(
                f"{where}: the optimizer's lr is already a schedule ({held!r}); this callback would "
                f"replace it with its own rate at every epoch. Give the schedule to one of them: "
                f"a number as the optimizer's lr, or no LearningRateScheduler")
        if isinstance(self.schedule, schedules.Schedule) and self.schedule.monitor:
            _require_validation_for(self.schedule.monitor, self.trainer, f"{where}({type(self.schedule).__name__})")

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.trainer.optimizer
        if isinstance(self.schedule, schedules.Schedule):
            lr = self.schedule(epoch)
        else:
            lr = self.schedule(epoch, optimizer.current_lr)
        lr = check_number(lr, f"the lr its schedule gave for epoch {epoch + 1}", "LearningRateScheduler",
                          low=0, low_open=True)
        optimizer.lr = lr
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler set the learning rate to {lr:#.4g}", flush=True)

    def on_epoch_end(self, epoch, logs=None):
        if isinstance(self.schedule, schedules.Schedule):
            self.schedule.on_epoch_end(epoch, dict(logs or {}))

    def state_dict(self) -> dict:
        # a function of (epoch, lr) builds on the rate it set last: a resumed run needs it back;
        # a schedule that learns from the logs (ReduceOnPlateau) needs what it learned
        lr = self.trainer.optimizer.lr if self.trainer is not None else None
        state = {"lr": lr if isinstance(lr, float) else None}
        if isinstance(self.schedule, schedules.Schedule):
            state["schedule"] = self.schedule.state_dict()
        return state

    def check_state(self, state: dict) -> None:
        _check_state_keys(state, ("lr",))
        if state["lr"] is not None:
            check_number(state["lr"], "state['lr']", "LearningRateScheduler", low=0, low_open=True)
        if isinstance(self.schedule, schedules.Schedule) and state.get("schedule") is not None:
            try:
                copy.deepcopy(self.schedule).load_state_dict(state["schedule"])
            except (ValueError, TypeError) as error:
                raise ValueError(f"LearningRateScheduler: cannot resume its schedule: {error}") from None

    def load_state_dict(self, state: dict) -> None:
        self.check_state(state)
        if state["lr"] is not None:
            self.trainer.optimizer.lr = float(state["lr"])
        if isinstance(self.schedule, schedules.Schedule) and state.get("schedule") is not None:
            self.schedule.load_state_dict(state["schedule"])


class CSVLogger(Callback):
    """Write each epoch's logs to a CSV file, one row per epoch, as Keras's CSVLogger does.

    Columns: ``epoch`` (0-based, as in Keras's CSVLogger and ``History.epoch``: the row of the
    line printed as ``Epoch 1/n`` has epoch 0), then the log keys in sorted order (``accuracy,
    loss, val_accuracy, val_loss``); values are written in full precision. The header is written
    once, when the file is new or empty. The file is flushed after every row, so a run that is
    killed keeps the rows of the epochs it finished.

    ``append=False`` starts a new file at the start of training; ``append=True`` adds rows to an
    existing one. A run resumed with ``fit(resume_from=...)`` always appends, whatever
    ``append`` says: it keeps the rows of the epochs the checkpoint holds (epoch below the
    checkpoint's) and drops any written after it (by a run killed between this callback's row
    and the checkpoint, or resumed from an earlier checkpoint), so the file reads as if the run
    had never stopped. Appending to a file whose header has other columns than this run logs is
    refused (ValueError) at the first epoch's end, before a row is written.

    ``path``: a file path (str or os.PathLike); ``separator``: one character. Raises TypeError
    for a path or separator of the wrong type, ValueError for a separator that is not one
    character, IsADirectoryError when ``path`` is a directory and FileNotFoundError when its
    folder does not exist, all when the callback is made.
    """

    def __init__(self, path, *, separator: str = ",", append: bool = False):
        super().__init__()
        where = "CSVLogger"
        path = checked_file_path(path, where)
        if not isinstance(separator, str):
            raise TypeError(f"{where}: separator must be a one-character str, got {type(separator).__name__}")
        if len(separator) != 1 or separator in '"\r\n':
            raise ValueError(f"{where}: separator must be one character other than a quote or a "
                             f"line break, got {separator!r}")
        self.path, self.separator, self.append = path, separator, check_bool(append, "append", where)
        self._file = self._writer = self._keys = None

    def on_train_begin(self, logs=None):
        _refuse_the_models_own_file(self.path, self.trainer, "CSVLogger", "CSV rows")
        self._file = None  # opened at the first epoch's end: a fit refused before then leaves the file alone

    def _open(self):
        resumed = self.trainer.initial_epoch > 0
        self._existing_header = None
        if (self.append or resumed) and os.path.exists(self.path):
            with open(self.path, newline="", encoding="utf-8") as file:
                rows = list(csv.reader(file, delimiter=self.separator))
            if rows:
                self._existing_header = rows[0]
                kept = [row for row in rows[1:] if not _row_from_epoch(row, self.trainer.initial_epoch)]
                if resumed and len(kept) < len(rows) - 1:  # rows of epochs the checkpoint lacks
                    write_atomically(self.path, lambda stream: csv.writer(
                        stream, delimiter=self.separator, lineterminator="\n").writerows([rows[0], *kept]),
                        binary=False)
        mode = "a" if self.append or resumed else "w"
        self._file = open(self.path, mode, newline="", encoding="utf-8")
        self._writer = csv.writer(self._file, delimiter=self.separator, lineterminator="\n")
        self._keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._file is None:
            self._open()
        if self._keys is None:
            self._keys = sorted(logs)
            header = ["epoch", *self._keys]
            if self._existing_header is None:
                self._writer.writerow(header)
            elif self._existing_header != header:
                self._close()
                raise ValueError(
                    f"CSVLogger: {self.path} has the columns {self._existing_header}, but this run "
                    f"logs {header}; give another path, or append=False to start the file again")
        self._writer.writerow([epoch, *(logs.get(key, "") for key in self._keys)])
        self._file.flush()

    def on_train_end(self, logs=None):
        self._close()

    def release(self) -> None:
        self._close()

    def _close(self):
        if self._file is not None:
            self._file.close()
            self._file = self._writer = None


def _row_from_epoch(row: list, first: int) -> bool:
    """Whether a CSV row belongs to epoch ``first`` or later (rows it cannot read are kept)."""
    try:
        return int(row[0]) >= first
    except (ValueError, IndexError):
        return False


class TerminateOnNaN(Callback):
    """Stop as soon as an epoch's loss (training or validation) is NaN or infinite, and put
    back the last finite weights. ``fit`` does this by default for the training loss
    (``terminate_on_nan=True``, whose guard finds the step where the first NaN appeared and
    restores the weights from just before it); this callback turns that guard on even with
    ``terminate_on_nan=False``, also stops on a non-finite validation loss (restoring the
    weights the epoch began with, the last ones known good), and says so in a RuntimeWarning
    as Keras's callback of this name does (in place of the guard's TrainingHealthWarning).
    Checked once per epoch, where the loss is read anyway: a per-batch check would make a GPU
    wait on every step."""

    order = -10

    def on_epoch_end(self, epoch, logs=None):
        bad = {key: value for key, value in logs.items() if key.endswith("loss") and not math.isfinite(value)}
        if bad:
            guard = self.trainer.guard  # fit gives every run with this callback one, which keeps the epoch's start
            prefix = (f"TerminateOnNaN: {', '.join(f'{k}={v}' for k, v in bad.items())} in epoch {epoch + 1}; "
                      "training stopped")
            if guard.failed_epoch == epoch:  # it restored the last finite weights
                message = f"{prefix}: {guard.message}"
            else:
                guard.restore_epoch_start()
                message = f"{prefix} and the weights from the start of that epoch restored"
            if getattr(self.trainer, "rank", 0) == 0:  # one process speaks for a distributed run
                warnings.warn(message, RuntimeWarning, stacklevel=2)
            self.trainer.stop(message)


def _formatted(value) -> str:
    """A logged value with 4 significant digits, trailing zeros kept (0.5000, 1.235e-05)."""
    try:
        return f"{value:#.4g}"
    except (TypeError, ValueError):
        return str(value)


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.1f}s"


def _is_terminal(file) -> bool:
    try:
        return bool(file.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed file
        return False


class ProgressBar(Callback):
    """What ``fit(verbose=1)`` and ``verbose=2`` print, as in Keras.

    One line per epoch that stays: ``Epoch 3/20 - 41ms - loss: 0.4213 - accuracy: 0.8333 -
    val_loss: 0.4577 - val_accuracy: 0.8000`` (the wall time of the epoch, validation included;
    every value with 4 significant digits; training values, then validation values, in the same
    order every line; epochs 1-based). Then one final line that says why training ended: the
    stop reason (early stopping, NaN), or that the last epoch was reached, followed by what
    callbacks did at the end (the epoch whose weights ``EarlyStopping`` restored).

    While an epoch runs, and only when ``file`` is a terminal (``file.isatty()``), a tqdm bar
    counts its steps and shows the batch loss, read from the device at most once every
    ``refresh_seconds`` seconds; the epoch's line replaces it. Anywhere else (a log file, a pipe,
    a captured stream) only the plain lines are written: no ``\\r`` frames.
    ``per_epoch_lines=True`` (``verbose=2``) never draws the bar.

    ``file``: a text stream; None (the default) means ``sys.stdout`` at the start of training.
    Raises TypeError for a ``file`` without ``write``, ValueError for a negative
    ``refresh_seconds``.
    """

    order = 20

    def __init__(self, *, per_epoch_lines: bool = False, refresh_seconds: float = 1.0, file=None):
        super().__init__()
        if file is not None and not callable(getattr(file, "write", None)):
            raise TypeError(f"ProgressBar: file must be a text stream with a write method or None, "
                            f"got {type(file).__name__}")
        self.per_epoch_lines = check_bool(per_epoch_lines, "per_epoch_lines", "ProgressBar")
        self.refresh_seconds = check_number(refresh_seconds, "refresh_seconds", "ProgressBar", low=0)
        self.file = file
        self._bar = None
        self._out = None

    def on_train_begin(self, logs=None):
        self._out = self.file if self.file is not None else sys.stdout
        self._draw_bar = not self.per_epoch_lines and _is_terminal(self._out)
        self._epochs_run = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.monotonic()
        if self._draw_bar:
            from tqdm import tqdm

            self._bar = tqdm(total=self.trainer.steps_per_epoch, desc=self._epoch_label(epoch),
                             unit="step", file=self._out, leave=False, dynamic_ncols=True)
            self._last_refresh = self._epoch_start

    def on_batch_end(self, batch, logs=None):
        if self._bar is None:
            return
        self._bar.update(1)
        now = time.monotonic()
        if now - self._last_refresh >= self.refresh_seconds and logs and "loss" in logs:
            self._last_refresh = now
            self._bar.set_postfix(loss=_formatted(float(logs["loss"])))  # the only host read

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.monotonic() - self._epoch_start
        self._close_bar()
        self._epochs_run += 1
        logs = logs or {}
        # training values first, each group led by its loss; otherwise the order of the logs
        keys = sorted(logs, key=lambda k: (k.startswith("val_"), k not in ("loss", "val_loss")))
        values = "".join(f" - {key}: {_formatted(logs[key])}" for key in keys)
        self._write(f"{self._epoch_label(epoch)} - {_duration(seconds)}{values}")

    def on_train_end(self, logs=None):
        self._close_bar()
        self._write(self.final_line())

    def final_line(self) -> str:
        """Why training ended, and what callbacks did at the end (restored weights)."""
        trainer, history = self.trainer, self.trainer.history
        last = history.epoch[-1] + 1 if history.epoch else 0
        if history.stop_reason:
            line = f"Stopped early after epoch {last}/{trainer.epochs}: {history.stop_reason}"
        elif self._epochs_run == 0:
            line = f"Nothing to train: the run is already at epoch {trainer.completed_epochs}/{trainer.epochs}"
        else:
            line = f"Finished: reached the last epoch, {trainer.epochs}/{trainer.epochs}"
        notes = [note for note in (c.end_note() for c in trainer.callbacks) if note]
        return "; ".join([line, *notes])

    def _epoch_label(self, epoch: int) -> str:
        return f"Epoch {epoch + 1}/{self.trainer.epochs}"

    def release(self) -> None:
        self._close_bar()

    def _close_bar(self):
        if self._bar is not None:
            self._bar.close()  # leave=False: the bar's line is cleared
            self._bar = None

    def _write(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()
