"""Layers with the contract ``out, backward = layer.forward(x, training=True)``, one module per
kind: dense (fully connected), conv (2-D convolution), pooling, reshape (Flatten, Reshape),
dropout, normalization, residual, sequential (containers)."""

from .conv import Conv2D
from .dense import Dense
from .dropout import Dropout
from .normalization import BatchNorm, BatchNorm2D, LayerNorm
from .pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D
from .reshape import Flatten, Reshape
from .residual import Residual
from .sequential import Sequential

__all__ = ["Conv2D", "Dense", "Dropout", "BatchNorm", "BatchNorm2D", "LayerNorm", "AvgPool2D",
           "GlobalAvgPool2D", "MaxPool2D", "Flatten", "Reshape", "Residual", "Sequential"]
