"""Hooks into the fit loop: early stopping, checkpoints, learning-rate changes, NaN guard, progress.

A callback sees the running ``Trainer`` as ``self.trainer`` (its model, optimizer, history,
``stop_training``). Hooks run in ``order`` (lower first, then list order): the NaN guard looks
at an epoch before anyone else, checkpoints are written after every other callback has
updated its state, so a checkpoint resumes exactly. Per-batch ``logs["loss"]`` is a 0-d
DEVICE array: reading it (``float``) makes a GPU wait, so callbacks do that rarely.
"""

from __future__ import annotations

import math
import time
import warnings

from ..backend import asarray_like, copy_of, to_numpy
from ..optim import schedules
from ..utils.validation import check_choice, check_int, check_monitor, check_number, check_optional_number
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

    def state_dict(self) -> dict:
        """What a checkpoint must hold for a resumed run to behave as if never stopped."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class History:
    """Per-epoch logs: ``history.history["loss"]``, ``["val_loss"]``, ``["accuracy"]``...;
    ``epoch`` lists the epoch indices; ``stop_reason`` says why training ended early."""

    def __init__(self, history=None, epoch=None, stop_reason=None):
        self.history: dict[str, list[float]] = {k: list(v) for k, v in (history or {}).items()}
        self.epoch: list[int] = list(epoch or [])
        self.stop_reason: str | None = stop_reason

    def append(self, epoch: int, logs: dict) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __getitem__(self, key):
        return self.history[key]

    def state_dict(self) -> dict:
        return {"history": self.history, "epoch": self.epoch, "stop_reason": self.stop_reason}

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
    if monitor.startswith("val_") and not trainer.has_validation:
        raise ValueError(
            f"{where}: monitor={monitor!r} needs validation data; pass validation_data=(X, y) or "
            f"validation_split to fit, or monitor a training value such as 'loss'"
        )


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
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = check_int(start_from_epoch, "start_from_epoch", where, minimum=0)
        self._reset()

    def _reset(self):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch, self.wait, self.stopped_epoch = None, 0, None
        self.best_weights = None

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
                              f"epochs (best {self.best:.6g} at epoch {self.best_epoch})")

    def on_train_end(self, logs=None):
        last = self.trainer.history.epoch[-1] if self.trainer.history.epoch else None
        if self.restore_best_weights and self.best_weights is not None and self.best_epoch != last:
            restore_state(self.trainer.model, self.best_weights)

    def state_dict(self) -> dict:
        return {
            "best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
            "best_weights": None if self.best_weights is None else [to_numpy(w) for w in self.best_weights],
        }

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch, self.wait = float(state["best"]), state["best_epoch"], int(state["wait"])
        saved = state.get("best_weights")
        if saved is not None:
            held = [h for _, h in self.trainer.model.named_state()]
            self.best_weights = [asarray_like(w, like=h.value) for w, h in zip(saved, held)]


class ModelCheckpoint(Callback):
    """Write a full training checkpoint (weights, optimizer, schedule, epoch, random state,
    callback state) at the end of each epoch, atomically; ``fit(resume_from=path)`` continues
    from it. ``path`` may use ``{epoch}`` (1-based) and log keys (``{val_loss:.3f}``).
    ``save_best_only`` writes only when ``monitor`` improves; ``save_weights_only`` writes a
    model file (``xpnn.load``) instead."""

    order = 10

    def __init__(self, path, *, monitor: str = "val_loss", save_best_only: bool = False,
                 mode: str = "auto", save_weights_only: bool = False):
        super().__init__()
        self.path = str(path)
        self.monitor, self.save_best_only = check_monitor(monitor, "ModelCheckpoint"), bool(save_best_only)
        self.mode, self._better = _better_function(monitor, mode, "ModelCheckpoint")
        self.save_weights_only = bool(save_weights_only)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.last_path = None

    def on_train_begin(self, logs=None):
        if self.save_best_only:
            _require_validation_for(self.monitor, self.trainer, "ModelCheckpoint")

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
        if self.save_weights_only:
            save_model(self.trainer.model, path)
        else:
            self.trainer.save_checkpoint(path)
        self.last_path = path

    def state_dict(self) -> dict:
        return {"best": self.best}

    def load_state_dict(self, state: dict) -> None:
        self.best = float(state["best"])


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at the start of each epoch from ``schedule``: a
    ``Schedule`` (``schedule(epoch)``) or a function ``(epoch, lr) -> new lr`` as in Keras."""

    def __init__(self, schedule, *, verbose: bool = False):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: schedule must be a Schedule or a function "
                            f"(epoch, lr) -> lr, got {type(schedule).__name__}")
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.trainer.optimizer
        if isinstance(self.schedule, schedules.Schedule):
            lr = self.schedule(epoch)
        else:
            lr = self.schedule(epoch, optimizer.current_lr)
        lr = check_number(lr, f"the lr its schedule gave at epoch {epoch}", "LearningRateScheduler",
                          low=0, low_open=True)
        optimizer.lr = lr
        if self.verbose:
            print(f"epoch {epoch + 1}: learning rate {lr:.6g}")

    def state_dict(self) -> dict:
        # a function of (epoch, lr) builds on the rate it set last: a resumed run needs it back
        lr = self.trainer.optimizer.lr if self.trainer is not None else None
        return {"lr": lr if isinstance(lr, float) else None}

    def load_state_dict(self, state: dict) -> None:
        if state.get("lr") is not None:
            self.trainer.optimizer.lr = float(state["lr"])


class TerminateOnNaN(Callback):
    """Stop as soon as an epoch's loss is NaN or infinite, and put back the weights the model
    had when that epoch began (the last finite ones). Checked once per epoch, where the loss
    is read anyway: a per-batch check would make a GPU wait on every step."""

    order = -10

    def on_epoch_begin(self, epoch, logs=None):
        self._snapshot = snapshot_state(self.trainer.model)

    def on_epoch_end(self, epoch, logs=None):
        bad = {key: value for key, value in logs.items() if key.endswith("loss") and not math.isfinite(value)}
        if bad:
            restore_state(self.trainer.model, self._snapshot)
            message = (f"TerminateOnNaN: {', '.join(f'{k}={v}' for k, v in bad.items())} in epoch "
                       f"{epoch}; training stopped and the weights from the start of that epoch restored")
            warnings.warn(message, RuntimeWarning, stacklevel=2)
            self.trainer.stop(message)


class ProgressBar(Callback):
    """A tqdm progress bar over the whole run (steps, rate, ETA) with the last epoch's logs
    and, at most once a second, the running batch loss. ``per_epoch_lines=True`` prints one
    line per epoch instead (``verbose=2``), which reads better in log files."""

    order = 20

    def __init__(self, *, per_epoch_lines: bool = False, refresh_seconds: float = 1.0, file=None):
        super().__init__()
        self.per_epoch_lines, self.refresh_seconds, self.file = per_epoch_lines, refresh_seconds, file
        self._bar = None

    def on_train_begin(self, logs=None):
        trainer = self.trainer
        if self.per_epoch_lines:
            return
        from tqdm.auto import tqdm

        remaining = max(trainer.epochs - trainer.initial_epoch, 0)
        self._bar = tqdm(total=remaining * trainer.steps_per_epoch, unit="step", file=self.file,
                         dynamic_ncols=True, leave=True)
        self._last_refresh = time.monotonic()

    def on_epoch_begin(self, epoch, logs=None):
        if self._bar is not None:
            self._bar.set_description(f"epoch {epoch + 1}/{self.trainer.epochs}", refresh=False)

    def on_batch_end(self, batch, logs=None):
        if self._bar is None:
            return
        self._bar.update(1)
        now = time.monotonic()
        if now - self._last_refresh >= self.refresh_seconds and logs and "loss" in logs:
            self._last_refresh = now
            self._bar.set_postfix(loss=f"{float(logs['loss']):.4g}")

    def on_epoch_end(self, epoch, logs=None):
        summary = {key: f"{value:.4g}" for key, value in logs.items()}
        if self._bar is not None:
            self._bar.set_postfix(summary)
        else:
            text = " - ".join(f"{key}: {value}" for key, value in summary.items())
            print(f"epoch {epoch + 1}/{self.trainer.epochs} - {text}", file=self.file, flush=True)

    def on_train_end(self, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        reason = self.trainer.history.stop_reason
        if reason:
            print(reason, file=self.file, flush=True)
