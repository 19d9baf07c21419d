"""Argument checks shared by layers and losses: fail early, name the argument, show what was seen."""

from __future__ import annotations

from .backend import dtype_is, dtype_name


def require_float(xp, array, arg: str, where: str) -> None:
    if not dtype_is(xp, array.dtype, "real floating"):
        raise TypeError(
            f"{where}: {arg} must be a floating-point array, got dtype {dtype_name(array.dtype)}; "
            f"convert it with xpnn.asarray({arg}, dtype='float32')"
        )


def require_same_dtype(array, reference, arg: str, reference_name: str, where: str) -> None:
    if array.dtype != reference.dtype:
        raise TypeError(
            f"{where}: {arg} has dtype {dtype_name(array.dtype)} but {reference_name} has "
            f"{dtype_name(reference.dtype)}; cast one of them (layer.astype(...) or "
            f"xpnn.asarray({arg}, dtype=...))"
        )


def require_shape(array, expected: tuple, arg: str, where: str) -> None:
    if tuple(array.shape) != tuple(expected):
        raise ValueError(
            f"{where}: {arg} has shape {tuple(array.shape)}, expected {tuple(expected)}"
        )


def require_batch_of_features(x, features: int, count_name: str, where: str) -> None:
    """x must be (batch, features): the input of a layer built for ``count_name=features``."""
    if x.ndim != 2 or x.shape[1] != features:
        raise ValueError(
            f"{where}: x has shape {tuple(x.shape)}, expected (batch, {features}) "
            f"for a layer with {count_name}={features}"
        )


def require_positive_int(value, arg: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{where}: {arg} must be a positive int, got {value!r}")
    return value


def require_finite_number(value, arg: str, where: str, *, positive: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: {arg} must be a number, got {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"{where}: {arg} must be finite, got {value!r}")
    if positive and number <= 0:
        raise ValueError(f"{where}: {arg} must be > 0, got {value!r}")
    return number


def require_output_shape(dout, out, where: str) -> None:
    """A backward pass gets a gradient shaped like the output it is the gradient of."""
    if tuple(dout.shape) != tuple(out.shape):
        raise ValueError(
            f"{where}: dout has shape {tuple(dout.shape)}, expected the output shape {tuple(out.shape)}"
        )
