"""``mpiexec -n 2 python communicator_check.py``: every method of the communicator ``init()``
returns, on NumPy and array_api_strict buffers; rank 0 prints "ok [0, 1]" on success."""

import numpy as np

import xpnn
import xpnn.distributed

comm = xpnn.distributed.init()
assert comm is xpnn.distributed.init()  # one per process
assert (comm.size, comm.local_rank) == (2, comm.rank), comm  # one machine: local rank = rank
assert comm.broadcast({"from": comm.rank}) == {"from": 0}
gathered = comm.gather(comm.rank * 10)
assert gathered == ([0, 10] if comm.is_root else None), gathered
for backend in ("numpy", "array_api_strict"):
    with xpnn.use_backend(backend):
        buffer = xpnn.asarray(np.arange(5.0) + comm.rank, dtype="float64")
        total = comm.allreduce_sum(buffer)
        assert xpnn.backend.backend_name_of(xpnn.backend.namespace_of(total=total)) == backend
        np.testing.assert_array_equal(xpnn.to_numpy(total), 2 * np.arange(5.0) + 1)
        same = comm.broadcast_array(xpnn.asarray(np.full((2, 3), float(comm.rank))))
        assert xpnn.backend.backend_name_of(xpnn.backend.namespace_of(same=same)) == backend
        np.testing.assert_array_equal(xpnn.to_numpy(same), np.zeros((2, 3)))
comm.barrier()
finished = comm.gather(comm.rank)  # one line from rank 0: the ranks' output may interleave
if comm.is_root:
    print("ok", finished, flush=True)
