"""Data-parallel training over MPI: ``mpiexec -n 4 python train.py`` with
``model.fit(..., distributed=True)``, or ``DataParallel`` in a hand-written loop.

- ``init()``: the communicator of the job (rank, size, local_rank; on CuPy each process takes
  the GPU of its local rank), aborting the whole job when one process raises.
- ``Communicator``: the base an engine implements (``MPICommunicator`` over mpi4py ships).
- ``DataParallel``: shares of each global batch, gradients summed in one bucketed flat buffer,
  rank 0's state broadcast, the epoch's logs reduced.

Importing this package does not import mpi4py; ``init()`` does (ImportError with
``pip install "xpnn[mpi]"`` without it).
"""

from .communicator import INSTALL_LINE, Communicator, MPICommunicator, init
from .data_parallel import ROOT_ONLY_CALLBACKS, DataParallel

__all__ = ["INSTALL_LINE", "Communicator", "MPICommunicator", "init", "ROOT_ONLY_CALLBACKS", "DataParallel"]
