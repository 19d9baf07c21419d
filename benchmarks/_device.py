"""Where a benchmark runs: the native array module, how to wait for it, and its peak memory.

``numpy`` runs on the host; ``cupy`` on the current CUDA device. Timing a GPU needs an
explicit wait (kernels are queued, not finished, when Python returns), so every timed block
ends with ``Device.sync()`` and nothing inside a block waits.
"""

from __future__ import annotations

import os


class Device:
    def __init__(self, backend: str):
        self.backend = backend
        if backend == "numpy":
            import numpy

            self.xp = numpy
            self.torch_device = "cpu"
        elif backend == "cupy":
            try:
                import cupy
            except ImportError as error:
                raise SystemExit(f"--backend cupy: CuPy is not installed ({error}); "
                                 'pip install -e ".[cuda12]" or ".[cuda13]"') from None
            if cupy.cuda.runtime.getDeviceCount() == 0:
                raise SystemExit("--backend cupy: no CUDA device is visible")
            self.xp = cupy
            self.torch_device = "cuda"
        else:
            raise SystemExit(f"--backend must be numpy or cupy, got {backend!r}")

    @property
    def on_gpu(self) -> bool:
        return self.backend == "cupy"

    def sync(self) -> None:
        """Wait until every queued kernel has finished (a no-op on the host)."""
        if self.on_gpu:
            self.xp.cuda.Device().synchronize()

    def asarray(self, host_array):
        return self.xp.asarray(host_array)

    def describe(self) -> str:
        if not self.on_gpu:
            return f"cpu ({cpu_model()}, {os.cpu_count()} logical cores)"
        cupy = self.xp
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
        return f"cuda:{cupy.cuda.Device().id} ({name}, {props['totalGlobalMem'] / 2**30:.0f} GiB)"

    # -- peak memory, read in a fresh process per implementation (see mlp_train.memory_probe)
    def memory_meter(self, kind: str) -> "MemoryMeter":
        """``kind`` is "array" for code allocating through NumPy/CuPy, "torch" for PyTorch."""
        if not self.on_gpu:
            return HostRSS()
        return TorchCuda() if kind == "torch" else CupyPool(self.xp)


class MemoryMeter:
    """``start()`` before the implementation builds anything, ``peak_bytes()`` after it ran."""

    label = ""

    def start(self) -> None: ...

    def peak_bytes(self) -> int: ...


class HostRSS(MemoryMeter):
    """The process's resident-set high-water mark above what it held at ``start()``.

    Linux resets the mark when "5" is written to /proc/self/clear_refs, so the imports'
    own peak does not count; where that is refused the mark of the whole process is used.
    """

    label = "host RSS"

    def start(self) -> None:
        try:
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")
        except OSError:
            pass
        self.baseline = _status_kib("VmRSS")

    def peak_bytes(self) -> int:
        peak = _status_kib("VmHWM")
        if peak is None or self.baseline is None:  # not Linux: the lifetime peak, less nothing
            import resource

            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return (peak - self.baseline) * 1024


class CupyPool(MemoryMeter):
    """Bytes CuPy's default memory pool holds: the pool keeps freed blocks for reuse, so after
    a run it holds the largest amount the run had in use at once (rounded up to its blocks)."""

    label = "CuPy pool"

    def __init__(self, cupy):
        self.pool = cupy.get_default_memory_pool()

    def start(self) -> None:
        self.pool.free_all_blocks()
        self.baseline = self.pool.total_bytes()

    def peak_bytes(self) -> int:
        return self.pool.total_bytes() - self.baseline


class TorchCuda(MemoryMeter):
    label = "torch.cuda.max_memory_allocated"

    def start(self) -> None:
        import torch

        torch.cuda.reset_peak_memory_stats()
        self.baseline = torch.cuda.memory_allocated()

    def peak_bytes(self) -> int:
        import torch

        return torch.cuda.max_memory_allocated() - self.baseline


def _status_kib(field: str):
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """The CPU's name from /proc/cpuinfo (virtual machines may give only the family)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()
