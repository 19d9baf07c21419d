"""The training floor: ``train_step`` (the one step every loop shares), the ``fit`` loop with
its data checks and batching, callbacks, metrics, checkpoints and model files, and ``Model``."""

from . import callbacks, checkpoint, data, diagnostics, metrics
from .callbacks import (
    Callback, CSVLogger, EarlyStopping, History, LearningRateScheduler, ModelCheckpoint, ProgressBar,
    TerminateOnNaN,
)
from .diagnostics import TrainingHealthWarning, TrainingMonitor
from .loop import Trainer, evaluate, fit, predict
from .model import Model, load
from .step import forward_backward, train_step

__all__ = [
    "callbacks", "checkpoint", "data", "diagnostics", "metrics", "Callback", "CSVLogger", "EarlyStopping", "History",
    "LearningRateScheduler", "ModelCheckpoint", "ProgressBar", "TerminateOnNaN", "Trainer",
    "TrainingHealthWarning", "TrainingMonitor", "evaluate", "fit", "predict", "Model", "load", "forward_backward", "train_step",
]
