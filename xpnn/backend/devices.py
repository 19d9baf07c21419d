"""Which GPU a process computes on, and waiting for a device buffer: what a data-parallel job
(``xpnn.distributed``) needs from the backend and the array API does not say.

On NumPy and array_api_strict (one host) both are no-ops.
"""

from __future__ import annotations

from .arrays import backend_name_of, namespace_of
from .selection import active


def use_local_device(local_rank: int) -> str:
    """On CuPy, make GPU ``local_rank % device count`` current for this process (so the
    processes of one machine spread over its GPUs, and share them round-robin when there are
    more processes than GPUs); elsewhere nothing. Returns the device in words."""
    backend = active()
    if backend.name != "cupy":
        return backend.device
    import cupy  # only reached on the CuPy backend, which has imported it already

    index = local_rank % cupy.cuda.runtime.getDeviceCount()
    cupy.cuda.Device(index).use()
    return f"cuda:{index}"


def wait_for(array) -> None:
    """Block until the work queued on ``array``'s device is done: a CUDA-aware MPI reads the
    device buffer directly, outside CuPy's stream ordering. Nothing to wait for on the host."""
    if backend_name_of(namespace_of(array=array)) == "cupy":
        array.device.synchronize()
