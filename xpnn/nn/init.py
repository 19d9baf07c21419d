"""Weight initialisers, drawn on the host and then moved to the active backend.

Drawing with a seeded NumPy Generator on the host is what makes the same seed give
bit-identical weights on every backend (the array API has no random numbers). Each
initialiser is ``init(shape, *, rng=None, dtype="float32")``; ``rng`` is a seed or a NumPy
Generator, ``None`` uses the library stream set by ``xpnn.set_seed``. Fans follow the Dense
layout ``(in_features, out_features)``: fan_in = shape[0], fan_out = shape[1].
"""

from __future__ import annotations

import math

from ..backend import asarray, namespace, resolve_dtype, rng as host_rng
from ..utils.registry import Registry
from ..utils.validation import check_float_dtype, check_number


def _shape(shape, where: str) -> tuple:
    """``shape`` as a tuple of ints >= 1: an empty axis would divide by a fan of 0."""
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"{where}: shape must be a tuple of ints, got {shape!r:.60}") from None
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in dims):
        raise ValueError(f"{where}: shape must be a tuple of ints >= 1, got {dims!r:.60}")
    return dims


def _fans(shape: tuple) -> tuple[int, int]:
    shape = _shape(shape, "init")
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[2:])
    return shape[0] * receptive, shape[1] * receptive


def constant(value: float):
    """An initialiser filling every entry with ``value``, a finite number (draws no random
    numbers)."""
    value = check_number(value, "value", "init.constant")

    def fill(shape, *, rng=None, dtype="float32"):
        xp = namespace()
        check_float_dtype(dtype, "dtype", "init.constant")
        return xp.full(_shape(shape, "init.constant"), value, dtype=resolve_dtype(xp, dtype))

    fill.__name__ = "constant"
    return fill


zeros = constant(0.0)
zeros.__name__ = "zeros"
ones = constant(1.0)
ones.__name__ = "ones"


def uniform(shape, *, low=-0.05, high=0.05, rng=None, dtype="float32"):
    """U(low, high) for finite low < high."""
    low, high = check_number(low, "low", "init.uniform"), check_number(high, "high", "init.uniform")
    if not low < high:
        raise ValueError(f"init.uniform: low must be below high, got low={low}, high={high}")
    check_float_dtype(dtype, "dtype", "init.uniform")
    return asarray(host_rng(rng).uniform(low, high, size=_shape(shape, "init.uniform")), dtype=dtype)


def normal(shape, *, mean=0.0, std=0.05, rng=None, dtype="float32"):
    """N(mean, std^2) for a finite mean and std > 0."""
    mean = check_number(mean, "mean", "init.normal")
    std = check_number(std, "std", "init.normal", low=0, low_open=True)
    check_float_dtype(dtype, "dtype", "init.normal")
    return asarray(host_rng(rng).normal(mean, std, size=_shape(shape, "init.normal")), dtype=dtype)


def xavier_uniform(shape, *, rng=None, dtype="float32"):
    """Glorot: U(-l, l) with l = sqrt(6 / (fan_in + fan_out)), variance 2/(fan_in + fan_out)."""
    fan_in, fan_out = _fans(tuple(shape))
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return uniform(shape, low=-limit, high=limit, rng=rng, dtype=dtype)


def xavier_normal(shape, *, rng=None, dtype="float32"):
    """Glorot: N(0, 2/(fan_in + fan_out)), for tanh/sigmoid layers."""
    fan_in, fan_out = _fans(tuple(shape))
    return normal(shape, std=math.sqrt(2.0 / (fan_in + fan_out)), rng=rng, dtype=dtype)


def he_uniform(shape, *, rng=None, dtype="float32"):
    """Kaiming: U(-l, l) with l = sqrt(6 / fan_in), variance 2/fan_in."""
    fan_in, _ = _fans(tuple(shape))
    limit = math.sqrt(6.0 / fan_in)
    return uniform(shape, low=-limit, high=limit, rng=rng, dtype=dtype)


def he_normal(shape, *, rng=None, dtype="float32"):
    """Kaiming: N(0, 2/fan_in), for ReLU-family layers (ReLU zeroes half its inputs)."""
    fan_in, _ = _fans(tuple(shape))
    return normal(shape, std=math.sqrt(2.0 / fan_in), rng=rng, dtype=dtype)


def lecun_normal(shape, *, rng=None, dtype="float32"):
    """N(0, 1/fan_in), what SELU's self-normalisation assumes."""
    fan_in, _ = _fans(tuple(shape))
    return normal(shape, std=math.sqrt(1.0 / fan_in), rng=rng, dtype=dtype)


glorot_uniform, glorot_normal = xavier_uniform, xavier_normal
kaiming_uniform, kaiming_normal = he_uniform, he_normal

INITIALIZERS = Registry("initializer", is_instance=callable)
INITIALIZERS.add(zeros, "zeros")
INITIALIZERS.add(ones, "ones")
INITIALIZERS.add(uniform, "uniform")
INITIALIZERS.add(normal, "normal")
INITIALIZERS.add(xavier_uniform, "xavier_uniform", "glorot_uniform")
INITIALIZERS.add(xavier_normal, "xavier_normal", "glorot_normal")
INITIALIZERS.add(he_uniform, "he_uniform", "kaiming_uniform")
INITIALIZERS.add(he_normal, "he_normal", "kaiming_normal")
INITIALIZERS.add(lecun_normal, "lecun_normal")


def get(spec, **arguments):
    """An initialiser from a name ('he_normal') or a callable (returned as is); ValueError for
    an unknown name (listing the valid ones), TypeError for anything else, and for arguments:
    an initialiser takes its settings when called."""
    return INITIALIZERS.get(spec, **arguments)
