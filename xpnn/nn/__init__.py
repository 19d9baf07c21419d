"""The ops floor: the differentiable contract (``Parameter``, ``Layer``), activations, losses,
initializers, special functions, and the layers in ``layers/``. Array API only: every function
takes the namespace of its input arrays."""

from . import activations, init, layers, losses, special
from .layer import Layer
from .layers import (
    AvgPool2D, BatchNorm, BatchNorm2D, Conv2D, Dense, Dropout, Flatten, GlobalAvgPool2D, LayerNorm,
    MaxPool2D, Reshape, Residual, Sequential,
)
from .losses import MAE, MSE, BinaryCrossEntropy, CrossEntropy, Huber, Loss
from .parameter import Buffer, Parameter

__all__ = [
    "activations", "init", "layers", "losses", "special", "Layer", "BatchNorm", "BatchNorm2D", "Conv2D", "Dense", "Dropout",
    "Flatten", "Reshape", "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D",
    "LayerNorm", "Residual", "Sequential", "MAE", "MSE", "BinaryCrossEntropy", "CrossEntropy",
    "Huber", "Loss", "Buffer", "Parameter",
]
