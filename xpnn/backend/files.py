"""Files: atomic writes of host arrays plus JSON metadata in one ``.npz`` archive, and reads
that never unpickle."""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import tempfile
import zipfile
import zlib

import numpy

from .arrays import to_numpy

_META_KEY = "__xpnn_meta__"


def write_atomically(path, write, *, binary: bool = True) -> None:
    """Call ``write(stream)`` on a temporary file in ``path``'s folder, flush it to disk, and
    only then rename it over ``path``: a process killed mid-write leaves the previous file
    intact. The file gets the permissions a plain ``open(path, "w")`` would give it: those of
    the file it replaces, else the default for new files (0666 less the umask), where the
    temporary file alone would be readable by its owner only.

    A destination the user made read-only is not replaced behind their back (renaming over
    it would succeed): PermissionError naming it, as ``open(path, "w")`` would; so is a folder
    xpnn may not write in, named rather than the temporary file."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    check_not_read_only(path)
    try:
        handle, temporary = tempfile.mkstemp(prefix=".xpnn-", suffix=".tmp", dir=folder)
    except PermissionError:
        raise PermissionError(f"cannot write {os.fspath(path)!r}: no permission to create files in "
                              f"{folder!r}") from None
    except FileNotFoundError:  # name the folder, not the temporary file inside it
        raise FileNotFoundError(f"cannot write {os.fspath(path)!r}: folder {folder!r} does not exist") from None
    try:
        os.chmod(temporary, _permissions_for(path))
        with os.fdopen(handle, "wb" if binary else "w", encoding=None if binary else "utf-8") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise


def same_file(a, b) -> bool:
    """Whether two paths name one file: through symlinks, ``./`` and ``..``, and letter case
    or hard links where the file system says so (``samefile`` once both exist)."""
    if os.path.exists(a) and os.path.exists(b):
        return os.path.samefile(a, b)
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def check_not_read_only(path) -> None:
    """PermissionError naming ``path`` when it is a file marked read-only: by its mode bits
    too, since root may write anything, yet a file the user made read-only must stay so."""
    if os.path.isfile(path) and (not os.access(path, os.W_OK) or not os.stat(path).st_mode & stat.S_IWUSR):
        raise PermissionError(f"cannot write {os.fspath(path)!r}: the file is read-only")


def _permissions_for(path) -> int:
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)  # the only way to read it is to set it: put it straight back
        os.umask(umask)
        return 0o666 & ~umask


def write_arrays_atomically(path, arrays: dict, meta: dict) -> None:
    """Write host arrays and a JSON-able ``meta`` dict to ``path`` (an .npz archive), through
    ``write_atomically``."""
    payload = {key: to_numpy(value) for key, value in arrays.items()}
    payload[_META_KEY] = numpy.frombuffer(json.dumps(meta).encode("utf-8"), dtype=numpy.uint8)
    write_atomically(path, lambda stream: write_npz(stream, payload))


def write_npz(stream, payload: dict) -> None:
    """The archive writer: one function, so a test can make it fail half way through."""
    numpy.savez(stream, **payload)


def _npz_contents(path, keys=None) -> dict:
    """The arrays of the .npz archive at ``path`` (those named in ``keys``, else all) as host
    arrays; never unpickles; members not asked for are never read.
    FileNotFoundError, or ValueError naming the file and the problem."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        _check_declared_sizes(path)
        loaded = numpy.load(path, allow_pickle=False)
        if not hasattr(loaded, "files"):
            raise ValueError(f"{path}: holds a single array (.npy), not an .npz archive of named arrays")
        with loaded as archive:
            return {key: archive[key] for key in archive.files if keys is None or key in keys}
    # zipfile's own errors for a damaged or foreign archive include RuntimeError (an
    # encrypted entry), NotImplementedError (a compression method it lacks) and zlib.error
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError, RuntimeError, NotImplementedError,
            zlib.error, MemoryError) as error:
        if str(error).startswith(f"{path}:"):
            raise
        if "allow_pickle" in str(error):  # NumPy's advice to load it unsafely: xpnn never does
            raise ValueError(f"{path}: not a readable .npz archive (truncated or corrupted?): it holds "
                             "pickled (object) data, which xpnn never loads (allow_pickle=False)") from None
        raise ValueError(
            f"{path}: not a readable .npz archive (truncated or corrupted?): {type(error).__name__}: {error}"
        ) from None


def _check_declared_sizes(path) -> None:
    """Read each member's .npy header (shape, dtype) before any data, and refuse a member whose
    header declares more bytes than the member holds: a damaged or hostile header of shape
    (10**6, 10**6) would otherwise be allocated first (8 TB) and end in a MemoryError or a
    killed process. Files that are not zip archives are left to numpy.load."""
    if not zipfile.is_zipfile(path):
        return
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            with archive.open(info) as member:
                # numpy.load reads any member that starts like a .npy file, whatever its name
                if member.read(len(numpy.lib.format.MAGIC_PREFIX)) != numpy.lib.format.MAGIC_PREFIX:
                    continue
            with archive.open(info) as member:
                version = numpy.lib.format.read_magic(member)
                read_header = (numpy.lib.format.read_array_header_1_0 if version == (1, 0)
                               else numpy.lib.format.read_array_header_2_0)
                shape, _, dtype = read_header(member)
                header_size = member.tell()
            declared = math.prod(shape) * dtype.itemsize
            if declared > info.file_size - header_size:
                raise ValueError(f"{path}: corrupted: member {info.filename!r} declares shape {shape} of "
                                 f"{dtype} ({declared:,} bytes) but holds {info.file_size - header_size:,}")


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


def read_arrays(path, referenced=None) -> tuple[dict, dict]:
    """(arrays, meta) from a file written by ``write_arrays_atomically``; never unpickles.

    The metadata is read first; ``referenced(meta)``, when given, names the arrays to read
    (the others are never loaded), else all are. Raises ValueError naming the file and the
    problem for anything unreadable.
    """
    raw = _npz_contents(path, keys={_META_KEY}).get(_META_KEY)
    if raw is None:
        raise ValueError(f"{path}: not an xpnn file (no {_META_KEY} entry)")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
        keys = None if referenced is None else set(referenced(meta))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:  # '[' * 10**5 nests too deep
        raise ValueError(f"{path}: its metadata is corrupted: {type(error).__name__}: {error}") from None
    arrays = _npz_contents(path, keys=keys)
    arrays.pop(_META_KEY, None)
    return arrays, meta
