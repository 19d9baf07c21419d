"""Argument checks for every floor: fail before any work, name the argument and the place,
show what was seen.

Each check returns the value it accepted (as a plain int or float where it checks numbers), so
a constructor reads ``self.rate = check_number(rate, "rate", "Dropout", low=0, high=1,
high_open=True)``. The exception types follow the habits of the arguments they check:
``check_number``, ``check_bool`` and ``check_seed`` raise TypeError for something of the wrong
type and ValueError for a value out of range; ``check_int``, ``check_index`` (for a value),
``check_choice`` and the array checks of shapes raise ValueError for anything that is not an
allowed value, a float where an int belongs included; the dtype checks raise TypeError.
"""

from __future__ import annotations

import math
import numbers
import operator

from ..backend import available_memory, dtype_is, dtype_name, is_array, namespace_of


# ---------------------------------------------------------------- plain values

def check_number(value, arg: str, where: str, *, low=None, high=None, low_open=False,
                 high_open=False) -> float:
    """A finite real number within the optional bounds, as a float. Strings and bools are
    refused, not parsed. ``low_open``/``high_open`` exclude the bound itself."""
    if _is_real_0d_array(value):  # a 0-d array of any backend: its one number
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {arg} must be a number, got {value!r:.80}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{where}: {arg} must be finite, got {value!r}")
    below = low is not None and (number <= low if low_open else number < low)
    above = high is not None and (number >= high if high_open else number > high)
    if below or above:
        raise ValueError(f"{where}: {arg} must be {_interval(low, high, low_open, high_open)}, got {value!r}")
    return number


def _is_real_0d_array(value) -> bool:
    return (getattr(value, "shape", None) == () and hasattr(value, "dtype") and is_array(value)
            and dtype_is(namespace_of(value=value), value.dtype, ("real floating", "integral")))


def _interval(low, high, low_open, high_open) -> str:
    if high is None:
        return f"{'>' if low_open else '>='} {low:g}"
    if low is None:
        return f"{'<' if high_open else '<='} {high:g}"
    return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def check_float_dtype(dtype, arg: str, where: str) -> str:
    """'float32' or 'float64' (a name or a dtype of any backend), as its name: weights and
    activations hold real floating numbers. TypeError otherwise."""
    try:
        name = dtype_name(dtype)
    except Exception:  # noqa: BLE001 - any object: the message below says what is accepted
        name = None
    if name not in ("float32", "float64"):
        raise TypeError(f"{where}: {arg} must be 'float32' or 'float64', got {dtype!r:.60}")
    return name


def byte_size(n_bytes: float) -> str:
    """``n_bytes`` for a person: '1.5 GiB'."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n_bytes < 1024 or unit == "TiB":
            return f"{n_bytes:.0f} {unit}" if unit == "bytes" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024


#: below this a parameter is not worth reading the free memory for
_SMALL_PARAMETER_BYTES = 2**26


def check_parameter_memory(shape, dtype, arg: str, where: str) -> None:
    """Refuse, before anything is allocated, a parameter that cannot be trained in the memory
    the active device has: the array, its gradient and two optimizer moments (Adam's) take
    four times its size. ValueError naming the layer, the shape and the memory available;
    nothing when the free memory cannot be known."""
    count = math.prod(shape)
    itemsize = 8 if dtype_name(dtype) == "float64" else 4
    if count * itemsize < _SMALL_PARAMETER_BYTES:
        return
    needed = 4 * count * itemsize
    available, source = available_memory()
    if available is not None and needed > available:
        raise ValueError(
            f"{where}: a {arg} of shape {tuple(shape)} holds {count:,} {dtype_name(dtype)} values "
            f"({byte_size(count * itemsize)}); with its gradient and optimizer state it needs about "
            f"{byte_size(needed)}, more than the {byte_size(available)} of {source}"
        )


def check_optional_number(value, arg: str, where: str, **bounds):
    """None, or a number as ``check_number`` accepts it."""
    return None if value is None else check_number(value, arg, where, **bounds)


def check_int(value, arg: str, where: str, *, minimum: int | None = None, or_else: str = "") -> int:
    """An integer (Python's or NumPy's, not a bool) of at least ``minimum``, as an int.
    ``or_else`` names what else the argument accepts, for the message (" or None")."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or (
            minimum is not None and value < minimum):
        kind = "a positive int" if minimum == 1 else "an int" if minimum is None else f"an int >= {minimum}"
        raise ValueError(f"{where}: {arg} must be {kind}{or_else}, got {value!r:.80}")
    return int(value)


def check_pair(value, arg: str, where: str, *, minimum: int) -> tuple[int, int]:
    """An int or a pair (tuple or list of two) of ints, each at least ``minimum``, as a tuple
    ``(height, width)``: how kernel sizes, strides, paddings and dilations are given."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2 or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < minimum
                              for v in items):
        kind = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"{where}: {arg} must be {kind} or a pair of them, got {value!r:.80}")
    return int(items[0]), int(items[1])


def check_optional_int(value, arg: str, where: str, *, minimum: int | None = None):
    """None, or an int as ``check_int`` accepts it."""
    return None if value is None else check_int(value, arg, where, minimum=minimum, or_else=" or None")


def check_index(value, arg: str, where: str) -> int:
    """A count or position >= 0 (an epoch): anything ``operator.index`` takes except bools."""
    try:
        index = operator.index(value)
    except TypeError:
        raise TypeError(f"{where}: {arg} must be an int, got {value!r:.80}") from None
    if isinstance(value, bool) or index < 0:
        raise ValueError(f"{where}: {arg} must be an int >= 0, got {value!r}")
    return index


def check_bool(value, arg: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{where}: {arg} must be True or False, got {value!r:.80}")
    return value


def check_choice(value, arg: str, where: str, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{where}: {arg} must be one of {', '.join(map(repr, choices))}, got {value!r:.80}")
    return value


def check_monitor(value, where: str) -> str:
    """The name of a logged value a callback or schedule watches (``'val_loss'``)."""
    if not isinstance(value, str) or not value:
        raise TypeError(f"{where}: monitor must be a non-empty str naming a logged value (such as "
                        f"'val_loss'), got {value!r:.80}")
    return value


def check_seed(value, arg: str, where: str):
    """None or an int >= 0 (a seed for a random stream)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise TypeError(f"{where}: {arg} must be None or a non-negative int, got {value!r:.80}")
    return int(value)


# ---------------------------------------------------------------- arrays

def check_float_array(xp, array, arg: str, where: str) -> None:
    if not dtype_is(xp, array.dtype, "real floating"):
        raise TypeError(
            f"{where}: {arg} must be a floating-point array, got dtype {dtype_name(array.dtype)}; "
            f"convert it with xpnn.asarray({arg}, dtype='float32')"
        )


def check_same_dtype(array, reference, arg: str, reference_name: str, where: str) -> None:
    if array.dtype != reference.dtype:
        raise TypeError(
            f"{where}: {arg} has dtype {dtype_name(array.dtype)} but {reference_name} has "
            f"{dtype_name(reference.dtype)}; cast one of them (layer.astype(...) or "
            f"xpnn.asarray({arg}, dtype=...))"
        )


def check_shape(array, expected: tuple, arg: str, where: str) -> None:
    if tuple(array.shape) != tuple(expected):
        raise ValueError(
            f"{where}: {arg} has shape {tuple(array.shape)}, expected {tuple(expected)}"
        )


def check_batch_of_features(x, features: int, count_name: str, where: str) -> None:
    """x must be (batch, features): the input of a layer built for ``count_name=features``."""
    if x.ndim != 2 or x.shape[1] != features:
        raise ValueError(
            f"{where}: x has shape {tuple(x.shape)}, expected (batch, {features}) "
            f"for a layer with {count_name}={features}"
        )


def check_images(x, channels: int, count_name: str, where: str) -> None:
    """x must be (batch, channels, height, width), NCHW, for a layer built for
    ``count_name=channels`` (``channels=None``: any number of channels)."""
    if x.ndim != 4 or (channels is not None and x.shape[1] != channels):
        expected = "(batch, channels, height, width)" if channels is None else (
            f"(batch, {channels}, height, width) for a layer with {count_name}={channels}")
        hint = ""
        if x.ndim == 3 and channels == 1:
            hint = f"; add the channel axis with x.reshape(-1, 1, {x.shape[1]}, {x.shape[2]})"
        raise ValueError(f"{where}: x has shape {tuple(x.shape)}, expected {expected}{hint}")


def check_output_shape(dout, out, where: str) -> None:
    """A backward pass gets a gradient shaped like the output it is the gradient of, and of
    its dtype (a float64 gradient would silently promote a float32 layer's gradients)."""
    if tuple(getattr(dout, "shape", ())) != tuple(out.shape) or not hasattr(dout, "dtype"):
        got = f"shape {tuple(dout.shape)}" if hasattr(dout, "shape") else f"a {type(dout).__name__}"
        raise ValueError(f"{where}: dout has {got}, expected the output shape {tuple(out.shape)}")
    if dout.dtype != out.dtype:
        namespace_of(dout=dout, output=out)  # arrays of two backends: say that, not "float32 != float32"
        raise TypeError(f"{where}: dout has dtype {dtype_name(dout.dtype)}, expected the output's "
                        f"{dtype_name(out.dtype)}")
