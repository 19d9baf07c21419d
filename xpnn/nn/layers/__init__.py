"""Layers with the contract ``out, backward = layer.forward(x, training=True)``, one module per
kind: dense (fully connected), dropout, normalization, residual, sequential (containers)."""

from .dense import Dense
from .dropout import Dropout
from .normalization import BatchNorm, LayerNorm
from .residual import Residual
from .sequential import Sequential

__all__ = ["Dense", "Dropout", "BatchNorm", "LayerNorm", "Residual", "Sequential"]
