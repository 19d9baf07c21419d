"""The backend floor: the only part of xpnn that names numpy or cupy.

- ``selection``: which backend is active (``XPNN_BACKEND``, ``use_backend``, ``describe``).
- ``arrays``: an array's namespace (``namespace_of``), dtypes, moving data (``asarray``,
  ``to_numpy``).
- ``numpy_wrapper``: ``numpy_namespace()``, the array-API namespace xpnn computes with on
  NumPy arrays.
- ``ops``: ``ops_for(xp)``, the hot operations with per-library fast paths.
- ``random``: the host stream for initial weights, and the streams layers draw masks from.
- ``files``: atomic writes and pickle-free reads of ``.npz`` archives.
- ``pickling``: ``portable``/``unwrapped``, how objects holding arrays pickle (host data in the
  pickle, arrays made again on the unpickling process's active backend).

Math elsewhere takes the namespace of the arrays it is given; the active backend only decides
where NEW arrays are created (parameters, data moved in with ``asarray``).
"""

from .arrays import (
    DEFAULT_FLOAT, asarray, asarray_like, backend_name_of, copy_into, copy_of, device_of, dtype_is, dtype_name,
    host_namespace, is_array, namespace_of, resolve_dtype, to_numpy,
)
from .files import check_not_read_only, read_arrays, read_npz, same_file, write_arrays_atomically, write_atomically
from .numpy_wrapper import numpy_namespace
from .ops import Ops, ops_for
from .pickling import Portable, portable, unwrapped
from .random import DeviceRandom, check_generator_state, rng, seeded, set_seed
from .selection import (
    BACKEND_NAMES, ENV_VAR, INSTALL_HINTS, Backend, BackendError, active, available_backends, available_memory, describe,
    name, namespace, use_backend,
)

__all__ = [
    "DEFAULT_FLOAT", "asarray", "asarray_like", "backend_name_of", "copy_into", "copy_of", "device_of", "dtype_is",
    "dtype_name", "host_namespace", "is_array", "namespace_of", "resolve_dtype", "to_numpy",
    "check_not_read_only", "read_arrays", "read_npz", "same_file", "write_arrays_atomically", "write_atomically", "numpy_namespace", "Ops", "ops_for",
    "Portable", "portable", "unwrapped",
    "DeviceRandom", "check_generator_state", "rng", "seeded", "set_seed", "BACKEND_NAMES", "ENV_VAR", "INSTALL_HINTS",
    "Backend", "BackendError", "active", "available_backends", "available_memory", "describe", "name", "namespace",
    "use_backend",
]
