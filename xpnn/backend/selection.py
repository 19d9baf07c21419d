"""Which array library computes and where new arrays are made: ``XPNN_BACKEND``,
``use_backend`` (for the process or a ``with`` block), ``describe``.

The active backend only decides where NEW arrays are created (parameters, data moved in with
``asarray``); math everywhere else takes the namespace of the arrays it is given.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, replace

import numpy

from .numpy_wrapper import numpy_namespace

ENV_VAR = "XPNN_BACKEND"
BACKEND_NAMES = ("numpy", "cupy", "array_api_strict", "auto")

INSTALL_HINTS = {
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


def _import(module: str, backend: str, missing: str):
    """``importlib.import_module(module)``, or a BackendError saying ``missing`` and how to
    install what ``backend`` needs."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise BackendError(
            f"backend {backend!r} {missing} ({error}); install it with: {INSTALL_HINTS[backend]}"
        ) from None


def _probe(name: str) -> Backend:
    """Import and check one concrete backend, or raise BackendError saying what is missing."""
    if name == "numpy":
        return Backend("numpy", numpy_namespace(), numpy.__version__, "cpu", "")
    if name == "array_api_strict":
        strict = _import("array_api_strict", "array_api_strict", "is not installed")
        return Backend("array_api_strict", strict, strict.__version__, "cpu", "")
    if name == "cupy":
        cupy = _import("cupy", "cupy", "needs CuPy, which is not installed")
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
        _check_cupy_compiles(cupy)
        import array_api_compat.cupy as xp

        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        gpu = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
        return Backend("cupy", xp, cupy.__version__, f"cuda:{cupy.cuda.Device().id} ({gpu})", "")
    raise BackendError(
        f"unknown backend {name!r}; valid names are: {', '.join(BACKEND_NAMES)}"
    )


_cupy_compiles: dict = {}  # id(cupy module) -> None (it compiles) or the reason it cannot


def _check_cupy_compiles(cupy) -> None:
    """Compile and run one small kernel, once per process: CuPy builds its elementwise kernels
    at run time with NVRTC, and a machine that has a driver and a device but no NVRTC library
    fails on the first operation, not at import. BackendError with the reason otherwise."""
    if id(cupy) not in _cupy_compiles:
        try:
            kernel = cupy.ElementwiseKernel("T x", "T y", "y = x + 1", "xpnn_backend_probe")
            result = kernel(cupy.arange(4, dtype=cupy.float32))
            _cupy_compiles[id(cupy)] = None if float(result.sum()) == 10.0 else (
                f"a probe kernel computed {float(result.sum())} instead of 10.0")
        except Exception as error:  # CuPy raises its own types (CompileException, NVRTCError, OSError...)
            _cupy_compiles[id(cupy)] = f"{type(error).__name__}: {error}"
    reason = _cupy_compiles[id(cupy)]
    if reason is not None:
        raise BackendError(
            f"backend 'cupy': CuPy {cupy.__version__} sees a CUDA device but cannot compile and run "
            f"a kernel ({reason}); CuPy needs the CUDA runtime compiler NVRTC: install the CUDA "
            "toolkit's NVRTC (pip install nvidia-cuda-nvrtc-cu12, or -cu13 for CUDA 13), or use "
            "XPNN_BACKEND=numpy"
        )


def _resolve(name: str, asked_by: str | None = None) -> Backend:
    """``asked_by`` says who asked, for ``describe``: ``use_backend('cupy')`` by default."""
    if not isinstance(name, str):
        raise TypeError(f"backend name must be a string, got {type(name).__name__}")
    name = name.strip().lower().replace("-", "_")
    if name != "auto":
        return replace(_probe(name), reason=asked_by or f"asked for with use_backend({name!r})")
    try:
        return replace(_probe("cupy"), reason="auto: CuPy is installed and a CUDA device is visible")
    except BackendError as why_not:
        return replace(_probe("numpy"), reason=f"auto: fell back to numpy because {why_not}")


_active: Backend | None = None  # resolved lazily so that a bad XPNN_BACKEND does not break import


def _current() -> Backend:
    global _active
    if _active is None:
        requested = os.environ.get(ENV_VAR, "").strip()
        try:
            _active = (_resolve(requested, f"{ENV_VAR}={requested}") if requested
                       else _resolve("numpy", f"default ({ENV_VAR} is not set)"))
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


def active() -> Backend:
    """The active backend: name, version, device, and why it was chosen."""
    return _current()


def name() -> str:
    """The name of the active backend ('numpy', 'cupy' or 'array_api_strict'; never 'auto')."""
    return _current().name


def describe() -> str:
    """Human-readable state: the active backend, why it was chosen, and every backend's status."""
    lines = []
    try:
        active = _current()
        lines.append(f"active backend: {active.name} {active.version} on {active.device}")
        lines.append(f"chosen because: {active.reason}")
    except BackendError as error:
        lines.append(f"active backend: unusable: {error}")
    for backend_name, (usable, detail) in available_backends().items():
        lines.append(f"  {backend_name:<17} {'usable' if usable else 'unusable'}: {detail}")
    return "\n".join(lines)


def available_memory() -> tuple[int | None, str]:
    """(bytes free for new arrays on the active backend's device, where that number comes from);
    ``(None, reason)`` when it cannot be known. CuPy: the device's free memory
    (``cupy.cuda.Device().mem_info`` and the free blocks of CuPy's pool); the CPU backends: ``MemAvailable`` of ``/proc/meminfo``,
    else the physical memory (``os.sysconf``)."""
    if name() == "cupy":
        import cupy

        free, _total = cupy.cuda.Device().mem_info  # plus what CuPy's pool holds but does not use
        free += cupy.get_default_memory_pool().free_bytes()
        return int(free), f"free memory of GPU {cupy.cuda.Device().id}"
    try:
        with open("/proc/meminfo", encoding="ascii") as stream:
            for line in stream:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "available memory (/proc/meminfo)"
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "physical memory"
    except (AttributeError, ValueError, OSError):
        return None, "the memory size of this system is unknown"


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
