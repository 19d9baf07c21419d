"""Arrays of any backend: their namespace, their dtypes, and moving data in and out.

``namespace_of(x=x, weight=w)`` is how math finds its namespace (and says which arguments
came from different backends); ``asarray`` moves data to the active backend, ``to_numpy``
brings it back to the host.
"""

from __future__ import annotations

import functools

import array_api_compat
import numpy

from .numpy_wrapper import numpy_namespace
from .selection import namespace

DEFAULT_FLOAT = "float32"

# ---------------------------------------------------------------- dtypes

_DTYPE_NAMES = (
    "float32", "float64", "int8", "int16", "int32", "int64",
    "uint8", "uint16", "uint32", "uint64", "bool",
)


def resolve_dtype(xp, dtype):
    """A dtype of namespace ``xp`` from a name ('float32'), a dtype of any library, or None."""
    if dtype is None:
        return None
    label = dtype_name(dtype)
    if label not in _DTYPE_NAMES:
        raise TypeError(f"dtype {dtype!r} is not a dtype the array API knows (e.g. 'float32')")
    return getattr(xp, label)


@functools.lru_cache(maxsize=None)
def dtype_is(xp, dtype, kind) -> bool:
    """``xp.isdtype(dtype, kind)``, remembered: layers, losses and optimizers ask on every step
    about the same few dtypes."""
    return xp.isdtype(dtype, kind)


def dtype_name(dtype) -> str:
    """'float32' for a float32 dtype of any library (NumPy, CuPy, array_api_strict, a name)."""
    if isinstance(dtype, str):
        return dtype
    if isinstance(dtype, type):  # numpy.float32, the scalar class
        return dtype.__name__
    return str(dtype).rsplit(".", 1)[-1]


# ---------------------------------------------------------------- namespaces

# An array's namespace depends on its type alone, and array_namespace is asked several times
# a training step: each type is looked up once.
_namespace_by_type: dict[type, object] = {}


def _native_namespace_or_none(x):
    xp = _namespace_by_type.get(type(x))
    if xp is None:
        try:
            xp = array_api_compat.array_namespace(x)
        except TypeError:
            return None
        if array_api_compat.is_numpy_namespace(xp):
            xp = numpy_namespace()
        _namespace_by_type[type(x)] = xp
    return xp


@functools.lru_cache(maxsize=None)  # messages and comparisons ask this of the same few namespaces
def backend_name_of(xp) -> str:
    """The backend name of an array-API namespace, for messages and comparisons."""
    module = getattr(xp, "__name__", str(xp))
    for known in ("array_api_strict", "cupy", "numpy", "torch"):
        if known in module:
            return known
    return module


def namespace_of(**named_arrays):
    """The shared namespace of arrays passed by name, or a TypeError naming the culprits.

    The names only serve the message: ``namespace_of(x=x, weight=w)`` can say
    "x is an array_api_strict array but weight is a numpy array".
    """
    shared = None
    for array in named_arrays.values():
        xp = _namespace_by_type.get(type(array))
        if xp is None or (shared is not None and xp is not shared):
            return _checked_namespace_of(named_arrays)
        shared = xp
    return shared if shared is not None else _checked_namespace_of(named_arrays)


def _checked_namespace_of(named_arrays: dict):
    seen = {}
    for arg_name, array in named_arrays.items():
        xp = _native_namespace_or_none(array)
        if xp is None:
            raise TypeError(
                f"{arg_name} must be an array (numpy, cupy or array_api_strict), got "
                f"{type(array).__name__}; convert it with xpnn.asarray({arg_name})"
            )
        seen[arg_name] = xp
    namespaces = {backend_name_of(xp) for xp in seen.values()}
    if len(namespaces) > 1:
        parts = ", ".join(f"{n} is {backend_name_of(xp)}" for n, xp in seen.items())
        raise TypeError(
            f"arrays from different backends mixed ({parts}); move them to one backend "
            "with xpnn.asarray(...) inside xpnn.use_backend(...)"
        )
    return next(iter(seen.values()))


def host_namespace():
    """The array-API namespace of host (NumPy) arrays, for code that inspects results."""
    return numpy_namespace()


# ---------------------------------------------------------------- moving data

def is_array(x) -> bool:
    """True for an array of any backend array-api-compat knows (NumPy, CuPy, strict, ...)."""
    return _native_namespace_or_none(x) is not None


def device_of(x):
    """The device ``x`` lives on, for ``device=`` arguments: array-api-compat's ``device``,
    since NumPy arrays before 2.0 have no ``.device`` attribute."""
    return array_api_compat.device(x)


def copy_of(x):
    """A copy of ``x`` on its own backend (device stays device)."""
    return namespace_of(x=x).asarray(x, copy=True)


def copy_into(target, x):
    """A copy of ``x`` on its own backend, written into ``target`` when that is an array of the
    same type, shape and dtype (returned), else new memory. For copies taken again and again
    (once an epoch): memory reused costs no page faults, which on the CPU can take longer than
    the copy itself."""
    if target is not None and type(target) is type(x) and target.shape == x.shape and target.dtype == x.dtype:
        target[...] = x
        return target
    return copy_of(x)


def to_numpy(x) -> "numpy.ndarray":
    """Any backend's array (or array-like) as a NumPy array on the host; may share memory."""
    if isinstance(x, numpy.ndarray):
        return x
    xp = _native_namespace_or_none(x)
    kind = backend_name_of(xp) if xp is not None else None
    if kind == "cupy":
        return x.get()
    if kind == "torch":
        return x.detach().cpu().numpy()
    if kind == "array_api_strict":
        return numpy.from_dlpack(x)
    return numpy.asarray(x)


def asarray(x, dtype=None):
    """``x`` (list, scalar, NumPy/CuPy/other array) as an array of the active backend.

    Arrays keep their dtype unless ``dtype`` is given; Python floats become float32, the
    library's default. An array already on the active backend is returned without a copy.
    Raises TypeError for text or object data, and for a dtype the array API does not know.
    """
    xp = namespace()
    target = resolve_dtype(xp, dtype)
    own = _native_namespace_or_none(x)
    if own is not None and backend_name_of(own) == backend_name_of(xp):
        return x if target is None or x.dtype == target else xp.astype(x, target)
    host = to_numpy(x) if own is not None else numpy.asarray(x)
    if host.dtype == object or host.dtype.kind in "USV":
        raise TypeError(f"cannot turn {type(x).__name__} of {host.dtype} into a numeric array")
    if target is None and own is None and host.dtype == numpy.float64:
        target = resolve_dtype(xp, DEFAULT_FLOAT)  # Python floats: the library default
    array = xp.asarray(host)
    return array if target is None or array.dtype == target else xp.astype(array, target)


def asarray_like(x, like):
    """``x`` (host data) as an array on the backend of ``like``, whatever the active one is."""
    return namespace_of(like=like).asarray(to_numpy(x))
