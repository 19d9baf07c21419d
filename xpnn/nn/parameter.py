"""A trainable array and the gradient that backward passes add into it."""

from __future__ import annotations

from ..backend import dtype_name, namespace_of, portable, unwrapped
from ..utils.validation import check_bool


class Parameter:
    """``value`` (a backend array), ``grad`` (same shape, None before the first backward).

    ``value`` is held as given, not copied, and optimizers update it in place: wrap a copy
    of an array you want to keep unchanged.

    ``trainable=False`` freezes it: layers stop computing its gradient and optimizers skip
    it, while gradients still flow through the layer to earlier ones.
    """

    __slots__ = ("value", "grad", "name", "trainable")

    def __init__(self, value, name: str = "", trainable: bool = True):
        namespace_of(value=value)  # a Parameter always holds a real backend array
        self.value = value
        self.grad = None
        self.name = name
        self.trainable = check_bool(trainable, "trainable", "Parameter")

    @property
    def shape(self) -> tuple:
        return tuple(self.value.shape)

    @property
    def dtype(self):
        return self.value.dtype

    def accumulate(self, gradient) -> None:
        """Add ``gradient`` into ``grad``; takes ownership of a freshly computed array."""
        if tuple(gradient.shape) != tuple(self.value.shape):
            raise ValueError(
                f"gradient for parameter {self.name!r} has shape {tuple(gradient.shape)}, "
                f"expected {self.shape}"
            )
        if self.grad is None:
            self.grad = gradient
        else:
            self.grad += gradient  # in place: accumulation over micro-batches costs no memory

    def zero_grad(self) -> None:
        self.grad = None

    # Pickles hold host copies; unpickling makes the arrays on the active backend
    # (xpnn/backend/pickling.py says why)
    def __getstate__(self) -> dict:
        return {"value": portable(self.value), "grad": portable(self.grad), "name": self.name,
                "trainable": self.trainable}

    def __setstate__(self, state: dict) -> None:
        self.value, self.grad = unwrapped(state["value"]), unwrapped(state["grad"])
        self.name, self.trainable = state["name"], state["trainable"]

    def __repr__(self) -> str:
        frozen = "" if self.trainable else ", frozen"
        return f"Parameter({self.name!r}, shape={self.shape}, dtype={dtype_name(self.dtype)}{frozen})"


class Buffer:
    """Layer state that is saved and moved with the weights but never trained (BatchNorm's
    running statistics). Kept apart from Parameter so freezing or optimizers never touch it."""

    __slots__ = ("value", "name")

    def __init__(self, value, name: str = ""):
        namespace_of(value=value)
        self.value = value
        self.name = name

    @property
    def shape(self) -> tuple:
        return tuple(self.value.shape)

    def __getstate__(self) -> dict:  # as Parameter's
        return {"value": portable(self.value), "name": self.name}

    def __setstate__(self, state: dict) -> None:
        self.value, self.name = unwrapped(state["value"]), state["name"]

    def __repr__(self) -> str:
        return f"Buffer({self.name!r}, shape={self.shape}, dtype={dtype_name(self.value.dtype)})"
