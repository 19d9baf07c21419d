"""xpnn: neural networks written once against the Python array API standard.

The same code runs on NumPy (CPU), CuPy (CUDA GPU) and array_api_strict (the standard alone).
Choose the backend with ``XPNN_BACKEND`` or ``xpnn.use_backend(name)``.

The package has five floors, each importing only from the ones below it (ARCHITECTURE.md):
``backend`` (array libraries, devices, Ops), ``nn`` (the differentiable contract, activations,
losses, layers), ``optim`` (update rules, schedules), ``training`` (train_step, fit, callbacks,
metrics, checkpoints, Model), and the front doors (``sklearn``, ``datasets``, ``plot``, ``cli``).
"""

import sys

from . import backend, datasets, nn, optim, testing, training
from .backend import BackendError, asarray, set_seed, to_numpy, use_backend
from .nn import activations, init, losses
from .nn.activations import LAYER_CLASSES, PReLU
from .nn.layer import Layer
from .nn.layers import (
    AvgPool2D, BatchNorm, BatchNorm2D, Conv2D, Dense, Dropout, Flatten, GlobalAvgPool2D, LayerNorm,
    MaxPool2D, Reshape, Residual, Sequential,
)
from .nn.losses import MAE, MSE, BinaryCrossEntropy, CrossEntropy, Huber, Loss
from .nn.parameter import Buffer, Parameter
from .optim import SGD, Adam, AdamW, LBFGS, Optimizer, RMSprop, lbfgs, schedules
optimizers = optim  # the name users know: xpnn.optimizers.Adam, xpnn.optimizers.get
from .testing import check_backends, gradcheck
from .training.perceptron import Perceptron
from .training import (
    Callback, CSVLogger, EarlyStopping, History, LearningRateScheduler, Model, ModelCheckpoint, ProgressBar,
    TerminateOnNaN, TrainingHealthWarning, TrainingMonitor, callbacks, checkpoint, diagnostics, load, metrics,
    train_step,
)

__version__ = "0.1.0"

# the activation layer classes, as made from their registered functions: xpnn.ReLU, xpnn.GELU...
globals().update(LAYER_CLASSES)

# the public modules keep their import names: ``from xpnn.losses import MSE`` still works
for _name, _module in {
    "activations": activations, "callbacks": callbacks, "checkpoint": checkpoint,
    "diagnostics": diagnostics, "init": init,
    "lbfgs": lbfgs, "losses": losses, "metrics": metrics, "optimizers": optim, "schedules": schedules,
}.items():
    sys.modules[f"{__name__}.{_name}"] = _module
del _name, _module

__all__ = [
    "activations", "backend", "callbacks", "checkpoint", "datasets", "diagnostics", "init", "lbfgs", "losses",
    "metrics", "nn", "optim", "optimizers", "schedules", "testing", "training",
    "BackendError", "asarray", "set_seed", "to_numpy", "use_backend",
    "Parameter", "Buffer", "Layer", "Dense", "Sequential", "Model", "load", "train_step",
    "Dropout", "BatchNorm", "LayerNorm", "Residual",
    "Conv2D", "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D", "Flatten", "Reshape", "BatchNorm2D",
    "Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "LBFGS",
    "Callback", "History", "EarlyStopping", "ModelCheckpoint", "LearningRateScheduler",
    "TerminateOnNaN", "ProgressBar", "CSVLogger", "TrainingMonitor", "TrainingHealthWarning",
    *LAYER_CLASSES, "PReLU",
    "Loss", "MSE", "MAE", "Huber", "BinaryCrossEntropy", "CrossEntropy",
    "gradcheck", "check_backends", "Perceptron",
]
