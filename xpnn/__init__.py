"""xpnn: neural networks written once against the Python array API standard.

The same code runs on NumPy (CPU), CuPy (CUDA GPU) and array_api_strict (the standard alone).
Choose the backend with ``XPNN_BACKEND`` or ``xpnn.use_backend(name)``.
"""

from . import (
    activations, backend, callbacks, checkpoint, datasets, init, lbfgs, losses, metrics,
    optimizers, schedules, testing, training,
)
from .activations import (
    ELU, GELU, SELU, Gaussian, HardSigmoid, HardTanh, Identity, LeakyReLU, LogSoftmax, Mish,
    PiecewiseLinear, PReLU, ReLU, Sigmoid, SiLU, Softmax, Softplus, Step, Swish, Tanh,
)
from .backend import BackendError, asarray, set_seed, to_numpy, use_backend
from .callbacks import (
    Callback, EarlyStopping, History, LearningRateScheduler, ModelCheckpoint, ProgressBar,
    TerminateOnNaN,
)
from .dense import Dense
from .dropout import Dropout
from .layer import Layer
from .lbfgs import LBFGS
from .losses import MAE, MSE, BinaryCrossEntropy, CrossEntropy, Huber, Loss
from .model import Model, load
from .normalization import BatchNorm, LayerNorm
from .optimizers import SGD, Adam, AdamW, Optimizer, RMSprop
from .parameter import Buffer, Parameter
from .residual import Residual
from .sequential import Sequential
from .testing import check_backends, gradcheck

__version__ = "0.1.0"

__all__ = [
    "activations", "backend", "callbacks", "checkpoint", "datasets", "init", "lbfgs", "losses",
    "metrics", "optimizers", "schedules", "testing", "training",
    "BackendError", "asarray", "set_seed", "to_numpy", "use_backend",
    "Parameter", "Buffer", "Layer", "Dense", "Sequential", "Model", "load",
    "Dropout", "BatchNorm", "LayerNorm", "Residual",
    "Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "LBFGS",
    "Callback", "History", "EarlyStopping", "ModelCheckpoint", "LearningRateScheduler",
    "TerminateOnNaN", "ProgressBar",
    "Identity", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "PReLU", "ELU", "SELU", "GELU", "SiLU",
    "Swish", "Softplus", "Mish", "HardSigmoid", "PiecewiseLinear", "HardTanh", "Gaussian", "Step",
    "Softmax", "LogSoftmax",
    "Loss", "MSE", "MAE", "Huber", "BinaryCrossEntropy", "CrossEntropy",
    "gradcheck", "check_backends",
]
