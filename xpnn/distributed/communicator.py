"""Communicators: what a data-parallel job needs from its processes (rank, size, a sum of a
flat buffer over all of them, a broadcast, a gather, a barrier, an abort), behind one small
base class so that another engine can slot in.

``MPICommunicator`` is the one shipped, over mpi4py. An NCCL communicator
(``cupyx.distributed.NCCLBackend``) would implement the same methods on device buffers; it is
not written yet because it could not be run here (its expected cost is in
benchmarks/README.md, "Data-parallel training").
"""

from __future__ import annotations

import sys
import traceback
from abc import ABC, abstractmethod

from ..backend import asarray_like, backend_name_of, namespace_of, to_numpy
from ..backend.devices import use_local_device, wait_for

INSTALL_LINE = 'pip install "xpnn[mpi]"'


class Communicator(ABC):
    """The processes of one data-parallel job, as ``DataParallel`` and ``fit`` use them.

    ``rank`` is this process's number in 0 .. ``size`` - 1; ``local_rank`` its number among the
    processes of its own machine (which GPU it takes on CuPy). Every method is collective:
    every process calls it, in the same order, or the job waits forever.
    """

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_root(self) -> bool:
        """True on rank 0, the process that prints and writes files."""
        return self.rank == 0

    @abstractmethod
    def allreduce_sum(self, buffer):
        """The element-wise sum of ``buffer`` (a 1-D array of any backend, the same shape and
        dtype on every process) over all processes, as an array on ``buffer``'s backend; it may
        be ``buffer`` itself, summed in place."""

    @abstractmethod
    def broadcast(self, obj, root: int = 0):
        """``obj`` as ``root`` holds it, returned on every process (any picklable object; give
        arrays as host NumPy arrays, ``to_numpy``)."""

    def broadcast_array(self, array, root: int = 0):
        """``root``'s values of ``array`` on every process, as an array on the caller's backend
        (each process passes an array of its own, of any shape: only root's is read)."""
        host = self.broadcast(to_numpy(array) if self.rank == root else None, root=root)
        return asarray_like(host, like=array)

    @abstractmethod
    def gather(self, obj, root: int = 0):
        """The list of every process's ``obj`` in rank order on ``root``; None elsewhere."""

    @abstractmethod
    def barrier(self) -> None:
        """Return once every process has called it."""

    @abstractmethod
    def abort(self, code: int = 1) -> None:
        """End every process of the job with exit status ``code`` (not only this one)."""


def _mpi():
    """mpi4py's MPI module, or an ImportError with the install line."""
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError(f"distributed training needs mpi4py and an MPI library ({error}); install them with: "
                          f"{INSTALL_LINE} (mpi4py and the mpich wheel, which brings mpiexec)") from None
    return MPI


class MPICommunicator(Communicator):
    """A Communicator over an mpi4py communicator (``MPI.COMM_WORLD`` by default).

    ``allreduce_sum`` hands MPI a device buffer directly when mpi4py reports a CUDA-aware MPI
    library (``MPI.Query_cuda_support()``); otherwise, and always for a GPU buffer without it,
    the buffer is copied to the host, summed there and copied back ("host staging": one
    device-to-host and one host-to-device copy of the buffer per call). NumPy buffers are summed
    in place. Only the host paths have run here (NumPy, array_api_strict); the CUDA-aware and
    staged CuPy paths are written but were not exercised on a GPU.
    """

    def __init__(self, comm=None):
        MPI = _mpi()
        self._MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        node = self.comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)
        self.local_rank = node.Get_rank()
        node.Free()
        query = getattr(MPI, "Query_cuda_support", None)  # mpi4py >= 4.0
        self.cuda_aware = bool(query()) if query is not None else False

    def allreduce_sum(self, buffer):
        MPI = self._MPI
        kind = backend_name_of(namespace_of(buffer=buffer))
        if kind == "numpy":
            self.comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
            return buffer
        if kind == "cupy" and self.cuda_aware:
            wait_for(buffer)  # MPI reads the memory outside CuPy's stream order
            self.comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
            return buffer
        host = to_numpy(buffer)  # array_api_strict shares memory read-only; CuPy copies
        total = host.copy()
        self.comm.Allreduce(host, total, op=MPI.SUM)
        return asarray_like(total, like=buffer)

    def broadcast(self, obj, root: int = 0):
        return self.comm.bcast(obj, root=root)

    def gather(self, obj, root: int = 0):
        return self.comm.gather(obj, root=root)

    def barrier(self) -> None:
        self.comm.Barrier()

    def abort(self, code: int = 1) -> None:
        self.comm.Abort(code)

    def __repr__(self) -> str:
        return f"MPICommunicator(rank={self.rank}, size={self.size}, local_rank={self.local_rank})"


_world = None


def init(*, abort_on_error: bool = True) -> MPICommunicator:
    """The communicator of all the processes ``mpiexec``/``srun`` started (made once per
    process; later calls return the same one).

    - On CuPy, the process takes GPU ``local_rank % device count``.
    - ``abort_on_error`` (default): an exception that reaches the top of any process prints
      its traceback and aborts the whole job (``MPI_Abort``), so the other processes do not
      wait forever in a collective call and ``mpiexec`` exits non-zero within seconds.

    Raises ImportError with the install line (``pip install "xpnn[mpi]"``) without mpi4py.
    """
    global _world
    if _world is None:
        _world = MPICommunicator()
        use_local_device(_world.local_rank)
        if abort_on_error:
            _abort_on_uncaught(_world)
    return _world


def _abort_on_uncaught(comm: MPICommunicator) -> None:
    # mpi4py's own answer is ``python -m mpi4py script.py``; a hook does the same for the
    # plain ``python script.py`` launch users write
    previous = sys.excepthook

    def hook(kind, value, trace):
        try:
            if previous is sys.__excepthook__:
                sys.stderr.write(f"[rank {comm.rank}] ")
                traceback.print_exception(kind, value, trace)
            else:
                previous(kind, value, trace)
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            comm.abort(1)

    sys.excepthook = hook
