"""Learning-rate schedules, indexed by epoch (0-based).

A schedule is a host-side function ``epoch -> lr`` (a Python float): the optimizer reads it
once per step, so nothing here ever touches a device. ``on_epoch_end(epoch, logs)`` lets a
schedule react to the metrics of the epoch that just ended (``ReduceOnPlateau``);
``state_dict`` / ``load_state_dict`` carry whatever it learned so a resumed run continues
exactly. ``schedule_config`` / ``from_config`` give a JSON form that only ever builds the
classes registered here.
"""

from __future__ import annotations

import math
import numbers

from ..utils.registry import Registry
from ..utils.validation import check_choice, check_index, check_int, check_monitor, check_number

class Schedule:
    """Base class: subclasses implement ``_lr(epoch)`` and ``get_config()``."""

    #: the logged value (``"val_loss"``) whose history decides the rate, for a schedule that
    #: reacts to metrics through ``on_epoch_end``; None for one that follows the epoch alone.
    #: ``fit`` refuses, before training, a ``val_...`` monitor without validation data.
    monitor: str | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        SCHEDULES.add_class(cls)

    def __call__(self, epoch: int) -> float:
        return float(self._lr(check_index(epoch, "epoch", type(self).__name__)))

    def _lr(self, epoch: int) -> float:
        raise NotImplementedError(f"{type(self).__name__} must implement _lr(epoch)")

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        """Called after each epoch with that epoch's metrics; most schedules ignore it."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        if state:
            raise ValueError(f"{type(self).__name__} keeps no state, got keys {sorted(state)}")

    def get_config(self) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must define get_config()")

    @classmethod
    def from_config(cls, config: dict) -> "Schedule":
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


SCHEDULES = Registry("schedule", Schedule)


class Constant(Schedule):
    """The same lr at every epoch."""

    def __init__(self, lr: float):
        self.lr = check_number(lr, "lr", "Constant", low=0, low_open=True)

    def _lr(self, epoch):
        return self.lr

    def get_config(self):
        return {"lr": self.lr}


class StepDecay(Schedule):
    """lr * factor ** (epoch // every): multiply by ``factor`` once every ``every`` epochs."""

    def __init__(self, lr: float, factor: float = 0.5, every: int = 10):
        self.lr = check_number(lr, "lr", "StepDecay", low=0, low_open=True)
        self.factor = check_number(factor, "factor", "StepDecay", low=0, high=1, low_open=True)
        self.every = check_int(every, "every", "StepDecay", minimum=1)

    def _lr(self, epoch):
        return self.lr * self.factor ** (epoch // self.every)

    def get_config(self):
        return {"lr": self.lr, "factor": self.factor, "every": self.every}


class ExponentialDecay(Schedule):
    """lr * exp(-k * epoch)."""

    def __init__(self, lr: float, k: float):
        self.lr = check_number(lr, "lr", "ExponentialDecay", low=0, low_open=True)
        self.k = check_number(k, "k", "ExponentialDecay", low=0)

    def _lr(self, epoch):
        return self.lr * math.exp(-self.k * epoch)

    def get_config(self):
        return {"lr": self.lr, "k": self.k}


class InverseTimeDecay(Schedule):
    """lr / (1 + k * epoch)."""

    def __init__(self, lr: float, k: float):
        self.lr = check_number(lr, "lr", "InverseTimeDecay", low=0, low_open=True)
        self.k = check_number(k, "k", "InverseTimeDecay", low=0)

    def _lr(self, epoch):
        return self.lr / (1.0 + self.k * epoch)

    def get_config(self):
        return {"lr": self.lr, "k": self.k}


class CosineDecay(Schedule):
    """Optional linear warm-up, then half a cosine from ``lr`` down to ``min_lr``.

    With W = warmup_epochs and T = total_epochs - W (at least 1):
    epoch e < W gives lr * (e + 1) / W, so the first epoch already trains and epoch W - 1
    reaches the full lr; afterwards, with t = e - W,
    min_lr + (lr - min_lr) * (1 + cos(pi * min(t, T) / T)) / 2, which holds at min_lr from
    epoch total_epochs on.
    """

    def __init__(self, lr: float, total_epochs: int, min_lr: float = 0.0, warmup_epochs: int = 0):
        self.lr = check_number(lr, "lr", "CosineDecay", low=0, low_open=True)
        self.total_epochs = check_int(total_epochs, "total_epochs", "CosineDecay", minimum=1)
        self.min_lr = check_number(min_lr, "min_lr", "CosineDecay", low=0)
        self.warmup_epochs = check_int(warmup_epochs, "warmup_epochs", "CosineDecay", minimum=0)
        if self.min_lr > self.lr:
            raise ValueError(f"CosineDecay: min_lr ({min_lr!r}) must not exceed lr ({lr!r})")
        if self.total_epochs - self.warmup_epochs < 1:
            raise ValueError(
                f"CosineDecay: total_epochs ({total_epochs}) must exceed warmup_epochs "
                f"({warmup_epochs}) by at least 1, leaving epochs to decay over"
            )

    def _lr(self, epoch):
        if epoch < self.warmup_epochs:
            return self.lr * (epoch + 1) / self.warmup_epochs
        span = self.total_epochs - self.warmup_epochs
        t = min(epoch - self.warmup_epochs, span)
        return self.min_lr + 0.5 * (self.lr - self.min_lr) * (1.0 + math.cos(math.pi * t / span))

    def get_config(self):
        return {"lr": self.lr, "total_epochs": self.total_epochs, "min_lr": self.min_lr,
                "warmup_epochs": self.warmup_epochs}


class ReduceOnPlateau(Schedule):
    """Multiply the lr by ``factor`` when ``logs[monitor]`` has not improved for ``patience``
    epochs (Keras semantics).

    An epoch improves when the value beats the best so far by more than ``min_delta`` (lower
    for mode "min", higher for "max"; "auto" means "max" when the monitor's name contains
    "acc" or "r2", else "min"). After a reduction the cooldown counter starts at
    ``cooldown`` and drops by one each epoch; epochs that find it above 0 do not count
    towards patience (as in Keras, the one that brings it to 0 already does). The lr never
    drops below ``min_lr``. The lr does not depend on the
    epoch index, only on the history fed to ``on_epoch_end``.
    """

    def __init__(self, lr: float, monitor: str = "val_loss", factor: float = 0.1,
                 patience: int = 10, min_delta: float = 1e-4, mode: str = "auto",
                 cooldown: int = 0, min_lr: float = 0.0):
        where = "ReduceOnPlateau"
        self.initial_lr = check_number(lr, "lr", where, low=0, low_open=True)
        self.monitor = check_monitor(monitor, where)
        self.factor = check_number(factor, "factor", where, low=0, high=1, low_open=True, high_open=True)
        self.patience = check_int(patience, "patience", where, minimum=0)
        self.min_delta = abs(check_number(min_delta, "min_delta", where))
        self.mode = check_choice(mode, "mode", where, ("auto", "min", "max"))
        self.cooldown = check_int(cooldown, "cooldown", where, minimum=0)
        self.min_lr = check_number(min_lr, "min_lr", where, low=0)
        if self.min_lr > self.initial_lr:
            raise ValueError(f"{where}: min_lr ({min_lr!r}) must not exceed lr ({lr!r})")
        if mode == "auto":
            lowered = monitor.lower()
            mode = "max" if "acc" in lowered or "r2" in lowered else "min"
        self.maximize = mode == "max"
        self.lr = self.initial_lr
        self.best = None  # no value seen yet
        self.wait = 0
        self.cooldown_counter = 0

    def _lr(self, epoch):
        return self.lr

    def _improved(self, current: float) -> bool:
        if self.best is None:
            return current == current  # the first value counts, unless it is NaN
        if self.maximize:
            return current > self.best + self.min_delta
        return current < self.best - self.min_delta

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        logs = logs or {}
        if self.monitor not in logs:
            raise ValueError(
                f"ReduceOnPlateau: monitor {self.monitor!r} is not in the epoch logs; available "
                f"keys: {sorted(logs) or 'none'} (validation metrics need validation data)"
            )
        current = float(logs[self.monitor])
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience and self.lr > self.min_lr:
                self.lr = max(self.lr * self.factor, self.min_lr)
                self.cooldown_counter = self.cooldown
                self.wait = 0

    def state_dict(self) -> dict:
        return {"lr": self.lr, "best": self.best, "wait": self.wait,
                "cooldown_counter": self.cooldown_counter}

    def load_state_dict(self, state: dict) -> None:
        missing = {"lr", "best", "wait", "cooldown_counter"} - set(state)
        if missing:
            raise ValueError(f"ReduceOnPlateau.load_state_dict: state lacks {sorted(missing)}")
        where = "ReduceOnPlateau.load_state_dict"
        lr = check_number(state["lr"], "state['lr']", where, low=0, low_open=True)
        best = None if state["best"] is None else check_number(state["best"], "state['best']", where)
        wait = check_int(state["wait"], "state['wait']", where, minimum=0)
        cooldown = check_int(state["cooldown_counter"], "state['cooldown_counter']", where, minimum=0)
        self.lr, self.best, self.wait, self.cooldown_counter = lr, best, wait, cooldown

    def get_config(self):
        return {"lr": self.initial_lr, "monitor": self.monitor, "factor": self.factor,
                "patience": self.patience, "min_delta": self.min_delta, "mode": self.mode,
                "cooldown": self.cooldown, "min_lr": self.min_lr}


SCHEDULES.add(Constant, "constant")
SCHEDULES.add(StepDecay, "step_decay")
SCHEDULES.add(ExponentialDecay, "exponential_decay")
SCHEDULES.add(InverseTimeDecay, "inverse_time_decay")
SCHEDULES.add(CosineDecay, "cosine_decay", "cosine")
SCHEDULES.add(ReduceOnPlateau, "reduce_on_plateau")


def schedule_config(schedule: Schedule) -> dict:
    """``{"class": name, "config": {...}}``, the JSON form of a schedule."""
    return SCHEDULES.config_of(schedule)


def from_config(spec: dict) -> Schedule:
    """Build a schedule from ``schedule_config`` output; only registered classes are built."""
    return SCHEDULES.from_config(spec)


def get(spec, **arguments) -> Schedule:
    """A Schedule passes through; a positive number becomes ``Constant(number)``; a name
    ('cosine_decay') or a Schedule class is built with ``arguments``."""
    if isinstance(spec, numbers.Real) and not isinstance(spec, bool):
        return Constant(spec, **arguments)
    return SCHEDULES.get(spec, **arguments)
