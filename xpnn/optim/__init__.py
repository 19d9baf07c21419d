"""The optimizers floor: the optimizer base (binding, clipping, state dicts), the update rules,
the multi-tensor path, learning-rate schedules, and full-batch L-BFGS."""

from . import lbfgs, schedules
from .lbfgs import LBFGS
from .optimizer import (
    OPTIMIZERS, Optimizer, clip_global_norm, get, optimizer_config, optimizer_from_config,
    optimizer_from_state,
)
from .rules import SGD, Adam, AdamW, RMSprop

__all__ = [
    "lbfgs", "schedules", "LBFGS", "OPTIMIZERS", "Optimizer", "clip_global_norm", "get",
    "optimizer_config", "optimizer_from_config", "optimizer_from_state", "SGD", "Adam", "AdamW",
    "RMSprop",
]
