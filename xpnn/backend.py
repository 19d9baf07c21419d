"""Which array library computes, where new arrays are made, random numbers, moving data in and out.

This is the only module that names numpy or cupy. Math elsewhere takes the namespace of the
arrays it is given (``namespace_of``); the active backend chosen here only decides where NEW
arrays are created (parameters, data moved in with ``asarray``).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import types
from dataclasses import dataclass, replace

import array_api_compat
import numpy

ENV_VAR = "XPNN_BACKEND"
BACKEND_NAMES = ("numpy", "cupy", "array_api_strict", "auto")
DEFAULT_FLOAT = "float32"

_INSTALL_HINTS = {
    "cupy": 'pip install "xpnn[cuda12]" (CUDA 12) or pip install "xpnn[cuda13]" (CUDA 13)',
    "array_api_strict": "pip install array-api-strict",
}


class BackendError(RuntimeError):
    """A backend was asked for that cannot be used here; the message says why and how to fix it."""


@dataclass(frozen=True)
class Backend:
    name: str
    xp: object  # the array-API namespace (array_api_compat wrapper or a native one)
    version: str
    device: str
    reason: str  # why this backend was chosen (matters for "auto")


def _probe(name: str) -> Backend:
    """Import and check one concrete backend, or raise BackendError saying what is missing."""
    if name == "numpy":
        return Backend("numpy", numpy_namespace(), numpy.__version__, "cpu", "")
    if name == "array_api_strict":
        try:
            strict = importlib.import_module("array_api_strict")
        except ImportError as error:
            raise BackendError(
                f"backend 'array_api_strict' is not installed ({error}); install it with: "
                f"{_INSTALL_HINTS['array_api_strict']}"
            ) from None
        return Backend("array_api_strict", strict, strict.__version__, "cpu", "")
    if name == "cupy":
        try:
            cupy = importlib.import_module("cupy")
        except ImportError as error:
            raise BackendError(
                f"backend 'cupy' needs CuPy, which is not installed ({error}); install it with: "
                f"{_INSTALL_HINTS['cupy']}"
            ) from None
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as error:  # CUDA driver missing or broken: CuPy raises its own types
            raise BackendError(
                f"backend 'cupy': CuPy {cupy.__version__} is installed but no CUDA device is "
                f"usable ({type(error).__name__}: {error}); check the NVIDIA driver and "
                "CUDA_VISIBLE_DEVICES, or use XPNN_BACKEND=numpy"
            ) from None
        if count == 0:
            raise BackendError(
                f"backend 'cupy': CuPy {cupy.__version__} is installed but no CUDA device is "
                "visible; check CUDA_VISIBLE_DEVICES, or use XPNN_BACKEND=numpy"
            )
        import array_api_compat.cupy as xp

        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        gpu = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
        return Backend("cupy", xp, cupy.__version__, f"cuda:{cupy.cuda.Device().id} ({gpu})", "")
    raise BackendError(
        f"unknown backend {name!r}; valid names are: {', '.join(BACKEND_NAMES)}"
    )


def _resolve(name: str) -> Backend:
    if not isinstance(name, str):
        raise TypeError(f"backend name must be a string, got {type(name).__name__}")
    name = name.strip().lower().replace("-", "_")
    if name != "auto":
        return replace(_probe(name), reason=f"asked for {name!r}")
    try:
        return replace(_probe("cupy"), reason="auto: CuPy is installed and a CUDA device is visible")
    except BackendError as why_not:
        return replace(_probe("numpy"), reason=f"auto: fell back to numpy because {why_not}")


_active: Backend | None = None  # resolved lazily so that a bad XPNN_BACKEND does not break import


def _current() -> Backend:
    global _active
    if _active is None:
        requested = os.environ.get(ENV_VAR, "").strip() or "numpy"
        try:
            _active = _resolve(requested)
        except BackendError as error:
            raise BackendError(f"{ENV_VAR}={requested!r}: {error}") from None
    return _active


class use_backend:
    """Switch the backend where new arrays are created.

    A plain call ``use_backend("cupy")`` switches for the rest of the process; used as a
    context manager it switches for the ``with`` block and restores the previous one on exit,
    even if the block raises. The name is checked before anything changes.
    """

    def __init__(self, name: str):
        new = _resolve(name)
        global _active
        self._previous = _active
        _active = new
        self.backend = new

    def __enter__(self):
        return self.backend.xp

    def __exit__(self, *exc_info):
        global _active
        _active = self._previous
        return False


def namespace():
    """The array-API namespace of the active backend."""
    return _current().xp


def name() -> str:
    """The name of the active backend ('numpy', 'cupy' or 'array_api_strict'; never 'auto')."""
    return _current().name


@functools.lru_cache(maxsize=None)  # the getattr default formats a module repr: microseconds a call
def backend_name_of(xp) -> str:
    """The backend name of an array-API namespace, for messages and comparisons."""
    module = getattr(xp, "__name__", str(xp))
    for known in ("array_api_strict", "cupy", "numpy", "torch"):
        if known in module:
            return known
    return module


def describe() -> str:
    """Human-readable state: the active backend, why it was chosen, and every backend's status."""
    lines = []
    try:
        active = _current()
        lines.append(f"active backend: {active.name} {active.version} on {active.device}")
        lines.append(f"chosen because: {active.reason or 'default'}")
    except BackendError as error:
        lines.append(f"active backend: unusable: {error}")
    for backend_name, (usable, detail) in available_backends().items():
        lines.append(f"  {backend_name:<17} {'usable' if usable else 'unusable'}: {detail}")
    return "\n".join(lines)


def available_backends() -> dict[str, tuple[bool, str]]:
    """For every concrete backend: (usable here, version and device or the reason it is not)."""
    status = {}
    for backend_name in ("numpy", "array_api_strict", "cupy"):
        try:
            backend = _probe(backend_name)
            status[backend_name] = (True, f"{backend.version} on {backend.device}")
        except BackendError as error:
            status[backend_name] = (False, str(error))
    return status


# ---------------------------------------------------------------- dtypes

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
    """``xp.isdtype(dtype, kind)``, remembered: NumPy's takes about a microsecond, and layers,
    losses and optimizers ask on every step."""
    return xp.isdtype(dtype, kind)


_DTYPE_NAMES = (
    "float32", "float64", "int8", "int16", "int32", "int64",
    "uint8", "uint16", "uint32", "uint64", "bool",
)


def dtype_name(dtype) -> str:
    """'float32' for a float32 dtype of any library (NumPy, CuPy, array_api_strict, a name)."""
    if isinstance(dtype, str):
        return dtype
    if isinstance(dtype, type):  # numpy.float32, the scalar class
        return dtype.__name__
    return str(dtype).rsplit(".", 1)[-1]


# ---------------------------------------------------------------- moving data

# An array's namespace depends on its type alone, and array_namespace takes 1-2 us a call,
# several times a training step: each type is looked up once.
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


# ---------------------------------------------------------------- the NumPy namespace

@functools.lru_cache(maxsize=None)
def numpy_namespace():
    """The namespace xpnn computes with on NumPy: ``array_api_compat.numpy`` with six of its
    functions replaced by the call they end in. ``sum``, ``max`` and ``min`` (NumPy's own)
    spend 1.2-1.5 us in argument handling before calling their ufunc's ``reduce``;
    array-api-compat's ``astype`` and ``arange`` 0.7-1.3 us checking a device before calling
    the method or NumPy's function; ``reshape`` 0.5 us before calling the method. A small
    network's training step makes about ten of these calls. The results are the same arrays:
    tests/test_backend.py compares each with array-api-compat's across dtypes, shapes and
    arguments.
    """
    import array_api_compat.numpy as compat

    fast = types.ModuleType("xpnn.numpy_namespace", compat.__doc__)
    fast.__dict__.update({key: value for key, value in vars(compat).items()
                          if key not in _MODULE_OWN_NAMES})
    for name, direct in (("sum", _sum), ("max", _max), ("min", _min)):
        if getattr(compat, name) is getattr(numpy, name):  # not where compat wraps them (NumPy 1.x)
            setattr(fast, name, direct)

    def astype(x, dtype, /, *, copy=True, device=None):
        if device is None and type(x) is numpy.ndarray:
            return x.astype(dtype, copy=copy)
        return compat.astype(x, dtype, copy=copy, device=device)

    def reshape(x, /, shape, *, copy=None):
        if copy is None and type(x) is numpy.ndarray:
            return x.reshape(shape)
        return compat.reshape(x, shape, copy=copy)

    def arange(start, /, stop=None, step=1, *, dtype=None, device=None):
        if device is None:
            return numpy.arange(start, stop, step, dtype=dtype)
        return compat.arange(start, stop, step, dtype=dtype, device=device)

    fast.astype, fast.reshape, fast.arange = astype, reshape, arange
    return fast


_MODULE_OWN_NAMES = frozenset(
    {"__name__", "__doc__", "__spec__", "__loader__", "__package__", "__file__", "__path__",
     "__cached__", "__builtins__"})
_add_reduce, _maximum_reduce, _minimum_reduce = (
    numpy.add.reduce, numpy.maximum.reduce, numpy.minimum.reduce)


def _sum(x, /, *, axis=None, dtype=None, keepdims=False):
    return _add_reduce(x, axis, dtype, None, keepdims)


def _max(x, /, *, axis=None, keepdims=False):
    return _maximum_reduce(x, axis, None, None, keepdims)


def _min(x, /, *, axis=None, keepdims=False):
    return _minimum_reduce(x, axis, None, None, keepdims)


def is_array(x) -> bool:
    """True for an array of any backend array-api-compat knows (NumPy, CuPy, strict, ...)."""
    return _native_namespace_or_none(x) is not None


def copy_of(x):
    """A copy of ``x`` on its own backend (device stays device)."""
    return namespace_of(x=x).asarray(x, copy=True)


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


def host_namespace():
    """The array-API namespace of host (NumPy) arrays, for code that inspects results."""
    return numpy_namespace()


def asarray_like(x, like):
    """``x`` (host data) as an array on the backend of ``like``, whatever the active one is."""
    return namespace_of(like=like).asarray(to_numpy(x))


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


# ---------------------------------------------------------------- fast paths

def fused_kernels(xp):
    """The seam for backend-specific fast paths: an object of in-place kernels
    (xpnn/_kernels.py) for arrays of namespace ``xp``, or None where xpnn has none. Callers
    keep the generic array-API code beside each use: it is the reference, and the tests
    assert that both give the same numbers.

    NumPy has them. CuPy's ufuncs take ``out=`` the same way, but it gets None until the
    kernels have been run and measured on a GPU; array_api_strict has no ``out=``.
    """
    return _numpy_kernels() if xp is numpy_namespace() else None


@functools.lru_cache(maxsize=None)
def _numpy_kernels():
    from ._kernels import OutKernels

    return OutKernels(numpy)


# ---------------------------------------------------------------- random numbers

_host_rng = numpy.random.default_rng()


def set_seed(seed: int | None) -> None:
    """Seed the host generator that parameter initialisation draws from (all backends)."""
    global _host_rng
    _host_rng = numpy.random.default_rng() if seed is None else rng(seed)


@contextlib.contextmanager
def seeded(seed: int):
    """Within the block, the library stream starts from ``seed``; the previous stream is
    restored afterwards, so a test or a check does not disturb the caller's random state."""
    global _host_rng
    previous, _host_rng = _host_rng, rng(seed)
    try:
        yield _host_rng
    finally:
        _host_rng = previous


def rng(seed=None) -> "numpy.random.Generator":
    """A host NumPy Generator: ``None`` gives the library's seeded stream, an int a fresh one.

    Draws happen on the host and are then moved to the backend, so the same seed gives
    bit-identical weights on every backend.
    """
    if seed is None:
        return _host_rng
    if isinstance(seed, numpy.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, numpy.integer)) or seed < 0:
        raise TypeError(f"seed must be a non-negative int or a numpy Generator, got {seed!r}")
    return numpy.random.default_rng(int(seed))


class DeviceRandom:
    """Random numbers drawn where the arrays live: NumPy's Generator on the host, CuPy's on the
    GPU (no host round trip per dropout mask). array_api_strict, having no generator of its
    own, draws on the host. One seed gives one reproducible stream per backend; the NumPy
    stream's state can be saved and restored for exact resumption."""

    def __init__(self, seed=None):
        if isinstance(seed, bool) or (isinstance(seed, (int, numpy.integer)) and seed < 0):
            raise ValueError(f"DeviceRandom: seed must be None, a Generator or an int >= 0, got {seed!r}")
        if isinstance(seed, (int, numpy.integer)):
            self._seed = int(seed)
        else:  # None: the library stream; a Generator: one draw from it
            self._seed = int(rng(seed).integers(2**63))
        self._generators = {}

    def _generator(self, kind: str):
        if kind not in self._generators:
            if kind == "cupy":
                import cupy

                self._generators[kind] = cupy.random.default_rng(self._seed)
            else:
                self._generators[kind] = numpy.random.default_rng(self._seed)
        return self._generators[kind]

    def uniform(self, shape: tuple, like):
        """U[0, 1) of ``shape`` on the backend and in the dtype of ``like``."""
        xp = namespace_of(like=like)
        kind = backend_name_of(xp)
        generator = self._generator(kind)
        if kind == "cupy":
            return generator.random(tuple(shape), dtype=like.dtype)
        draws = generator.random(tuple(shape), dtype=numpy.float64)
        return xp.astype(xp.asarray(draws), like.dtype)

    def state_dict(self) -> dict:
        """JSON-able state; CuPy's generator state is not exported, so a CuPy run resumes
        with the same seed but a fresh stream."""
        host = self._generators.get("numpy") or self._generators.get("array_api_strict")
        return {
            "seed": self._seed,
            "host_state": None if host is None else host.bit_generator.state,
        }

    def load_state_dict(self, state: dict) -> None:
        self._seed = int(state["seed"])
        self._generators = {}
        if state.get("host_state") is not None:
            for kind in ("numpy", "array_api_strict"):
                generator = numpy.random.default_rng(self._seed)
                generator.bit_generator.state = state["host_state"]
                self._generators[kind] = generator


# ---------------------------------------------------------------- files

_META_KEY = "__xpnn_meta__"


def write_arrays_atomically(path, arrays: dict, meta: dict) -> None:
    """Write host arrays and a JSON-able ``meta`` dict to ``path`` (an .npz archive).

    The data goes to a temporary file in the same folder, is flushed to disk, and only then
    renamed over ``path``: a process killed mid-write leaves the previous file intact.
    """
    import json
    import tempfile

    folder = os.path.dirname(os.path.abspath(path)) or "."
    payload = {key: to_numpy(value) for key, value in arrays.items()}
    payload[_META_KEY] = numpy.frombuffer(json.dumps(meta).encode("utf-8"), dtype=numpy.uint8)
    handle, temporary = tempfile.mkstemp(prefix=".xpnn-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            _write_npz(stream, payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise


def _write_npz(stream, payload: dict) -> None:
    numpy.savez(stream, **payload)


def _npz_contents(path) -> dict:
    """Every array of the .npz archive at ``path`` as host arrays; never unpickles.
    FileNotFoundError, or ValueError naming the file and the problem."""
    import zipfile

    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        loaded = numpy.load(path, allow_pickle=False)
        if not hasattr(loaded, "files"):
            raise ValueError(f"{path}: holds a single array (.npy), not an .npz archive of named arrays")
        with loaded as archive:
            return {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as error:
        if str(error).startswith(f"{path}:"):
            raise
        raise ValueError(
            f"{path}: not a readable .npz archive (truncated or corrupted?): {type(error).__name__}: {error}"
        ) from None


def read_npz(path, keys=None, optional=()) -> dict:
    """Host arrays from the .npz archive at ``path``: those named in ``keys`` (all when None)
    plus whichever of ``optional`` are there. Never unpickles; a missing key is a ValueError
    that lists what the archive holds."""
    arrays = _npz_contents(path)
    wanted = list(arrays) if keys is None else list(keys)
    missing = [key for key in wanted if key not in arrays]
    if missing:
        raise ValueError(
            f"{path}: no array named {missing[0]!r}; the archive holds: "
            + (", ".join(repr(name) for name in arrays) or "no arrays")
        )
    wanted += [key for key in optional if key in arrays and key not in wanted]
    return {key: arrays[key] for key in wanted}


def read_arrays(path) -> tuple[dict, dict]:
    """(arrays, meta) from a file written by ``write_arrays_atomically``; never unpickles.

    Raises ValueError naming the file and the problem for anything unreadable.
    """
    import json

    arrays = _npz_contents(path)
    raw = arrays.pop(_META_KEY, None)
    if raw is None:
        raise ValueError(f"{path}: not an xpnn file (no {_META_KEY} entry)")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: its metadata is corrupted: {error}") from None
    return arrays, meta
