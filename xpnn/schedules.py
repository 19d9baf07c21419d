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
import operator

from ._checks import require_finite_number
from .registry import build_registered, class_key

_SCHEDULE_CLASSES: dict[str, type] = {}


def _number(value, arg: str, where: str, *, positive: bool = False) -> float:
    """A finite real number as a float; strings and bools are refused, not parsed."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {arg} must be a number, got {value!r:.80}")
    return require_finite_number(value, arg, where, positive=positive)


def _positive(value, arg: str, where: str) -> float:
    return _number(value, arg, where, positive=True)


def _non_negative(value, arg: str, where: str) -> float:
    number = _number(value, arg, where)
    if number < 0:
        raise ValueError(f"{where}: {arg} must be >= 0, got {value!r}")
    return number


def _int_at_least(value, minimum: int, arg: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{where}: {arg} must be an int >= {minimum}, got {value!r}")
    return value


def _epoch_index(epoch, where: str) -> int:
    try:
        index = operator.index(epoch)  # numpy integers are fine, floats and bools are not
    except TypeError:
        raise TypeError(f"{where}: epoch must be an int, got {epoch!r}") from None
    if isinstance(epoch, bool) or index < 0:
        raise ValueError(f"{where}: epoch must be an int >= 0, got {epoch!r}")
    return index


class Schedule:
    """Base class: subclasses implement ``_lr(epoch)`` and ``get_config()``."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _SCHEDULE_CLASSES[class_key(cls)] = cls

    def __call__(self, epoch: int) -> float:
        return float(self._lr(_epoch_index(epoch, type(self).__name__)))

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


class Constant(Schedule):
    """The same lr at every epoch."""

    def __init__(self, lr: float):
        self.lr = _positive(lr, "lr", "Constant")

    def _lr(self, epoch):
        return self.lr

    def get_config(self):
        return {"lr": self.lr}


class StepDecay(Schedule):
    """lr * factor ** (epoch // every): multiply by ``factor`` once every ``every`` epochs."""

    def __init__(self, lr: float, factor: float = 0.5, every: int = 10):
        self.lr = _positive(lr, "lr", "StepDecay")
        self.factor = _positive(factor, "factor", "StepDecay")
        if self.factor > 1:
            raise ValueError(f"StepDecay: factor must be in (0, 1], got {factor!r}")
        self.every = _int_at_least(every, 1, "every", "StepDecay")

    def _lr(self, epoch):
        return self.lr * self.factor ** (epoch // self.every)

    def get_config(self):
        return {"lr": self.lr, "factor": self.factor, "every": self.every}


class ExponentialDecay(Schedule):
    """lr * exp(-k * epoch)."""

    def __init__(self, lr: float, k: float):
        self.lr = _positive(lr, "lr", "ExponentialDecay")
        self.k = _non_negative(k, "k", "ExponentialDecay")

    def _lr(self, epoch):
        return self.lr * math.exp(-self.k * epoch)

    def get_config(self):
        return {"lr": self.lr, "k": self.k}


class InverseTimeDecay(Schedule):
    """lr / (1 + k * epoch)."""

    def __init__(self, lr: float, k: float):
        self.lr = _positive(lr, "lr", "InverseTimeDecay")
        self.k = _non_negative(k, "k", "InverseTimeDecay")

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
        self.lr = _positive(lr, "lr", "CosineDecay")
        self.total_epochs = _int_at_least(total_epochs, 1, "total_epochs", "CosineDecay")
        self.min_lr = _non_negative(min_lr, "min_lr", "CosineDecay")
        self.warmup_epochs = _int_at_least(warmup_epochs, 0, "warmup_epochs", "CosineDecay")
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
        self.initial_lr = _positive(lr, "lr", where)
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(f"{where}: monitor must be a non-empty str, got {monitor!r}")
        self.monitor = monitor
        self.factor = _positive(factor, "factor", where)
        if self.factor >= 1:
            raise ValueError(f"{where}: factor must be in (0, 1), got {factor!r}")
        self.patience = _int_at_least(patience, 0, "patience", where)
        self.min_delta = abs(_number(min_delta, "min_delta", where))
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{where}: mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.mode = mode
        self.cooldown = _int_at_least(cooldown, 0, "cooldown", where)
        self.min_lr = _non_negative(min_lr, "min_lr", where)
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
        lr = _positive(state["lr"], "state['lr']", where)
        best = None if state["best"] is None else _number(state["best"], "state['best']", where)
        wait = _int_at_least(state["wait"], 0, "state['wait']", where)
        cooldown = _int_at_least(state["cooldown_counter"], 0, "state['cooldown_counter']", where)
        self.lr, self.best, self.wait, self.cooldown_counter = lr, best, wait, cooldown

    def get_config(self):
        return {"lr": self.initial_lr, "monitor": self.monitor, "factor": self.factor,
                "patience": self.patience, "min_delta": self.min_delta, "mode": self.mode,
                "cooldown": self.cooldown, "min_lr": self.min_lr}


def schedule_config(schedule: Schedule) -> dict:
    """``{"class": name, "config": {...}}``, the JSON form of a schedule."""
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule_config: expected a Schedule, got {type(schedule).__name__}")
    return {"class": class_key(type(schedule)), "config": schedule.get_config()}


def from_config(spec: dict) -> Schedule:
    """Build a schedule from ``schedule_config`` output; only registered classes are built."""
    return build_registered(spec, _SCHEDULE_CLASSES, "schedule")


def get(spec) -> Schedule:
    """A Schedule passes through; a positive number becomes ``Constant(number)``."""
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, bool) or not isinstance(spec, numbers.Real):
        raise TypeError(
            f"a learning rate must be a positive number or a Schedule, got {spec!r:.80}"
        )
    return Constant(float(spec))
