"""Model files and training checkpoints: JSON that describes, arrays that hold numbers.

A file is one ``.npz`` archive read with ``allow_pickle=False``: the arrays, plus a JSON
document (the architecture as ``layer_config``, optimizer settings, epoch, random states...)
in which every array is replaced by a reference ``{"__array__": "a7"}``. Loading builds only
registered layer classes from that JSON; nothing in a file is ever executed. Writes are atomic
(temporary file, fsync, rename), so a crash mid-save leaves the previous file readable.
Arrays are saved as host NumPy arrays, so a file written on one backend loads on any other.
"""

from __future__ import annotations

import os

from ..backend import (
    asarray_like, is_array, namespace_of, read_arrays, seeded, to_numpy, write_arrays_atomically,
)
from ..nn.layer import layer_config, layer_from_config

MODEL_FORMAT = "xpnn.model"
CHECKPOINT_FORMAT = "xpnn.checkpoint"
VERSION = 1
_ARRAY = "__array__"


def write_file(path, kind: str, content: dict) -> None:
    """Write ``content`` (JSON values and arrays of any backend, nested) atomically."""
    path = _checked_destination(path)
    arrays = {}
    tree = _split_arrays(content, arrays)
    write_arrays_atomically(path, arrays, {"format": kind, "version": VERSION, "content": tree})


def read_file(path, kinds: tuple[str, ...]) -> dict:
    """The content written by ``write_file``, arrays as host NumPy arrays."""
    path = os.fspath(path)
    arrays, meta = read_arrays(path)
    kind = meta.get("format") if isinstance(meta, dict) else None
    if kind not in kinds:
        expected = " or ".join(repr(k) for k in kinds)
        raise ValueError(f"{path}: holds {kind!r} data, expected {expected}")
    if meta.get("version") != VERSION:
        raise ValueError(f"{path}: format version {meta.get('version')!r} is not one this xpnn reads ({VERSION})")
    try:
        return _join_arrays(meta["content"], arrays)
    except KeyError as error:
        raise ValueError(f"{path}: corrupted: it refers to array {error} which is missing") from None


def _checked_destination(path) -> str:
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot save to {path!r}: it is a directory; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save to {path!r}: folder {folder!r} does not exist")
    return path


def _split_arrays(tree, arrays: dict):
    if is_array(tree):
        key = f"a{len(arrays)}"
        arrays[key] = to_numpy(tree)
        return {_ARRAY: key}
    if isinstance(tree, dict):
        return {str(key): _split_arrays(value, arrays) for key, value in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [_split_arrays(value, arrays) for value in tree]
    return tree


def _join_arrays(tree, arrays: dict):
    if isinstance(tree, dict):
        if set(tree) == {_ARRAY}:
            return arrays[tree[_ARRAY]]
        return {key: _join_arrays(value, arrays) for key, value in tree.items()}
    if isinstance(tree, list):
        return [_join_arrays(value, arrays) for value in tree]
    return tree


# ---------------------------------------------------------------- model state

def model_state(model) -> dict:
    """Names and arrays of every parameter and buffer, in ``named_state`` order."""
    named = model.named_state()
    return {"names": [name for name, _ in named], "arrays": [held.value for _, held in named]}


def assign_model_state(model, state: dict, path) -> None:
    """Copy saved arrays into ``model`` (on the model's backend and dtype) after checking that
    the names and shapes match exactly; on any mismatch nothing is changed."""
    named = model.named_state()
    try:
        names, arrays = list(state["names"]), list(state["arrays"])
    except (KeyError, TypeError):
        raise ValueError(f"{path}: corrupted: no model state in it") from None
    expected = [name for name, _ in named]
    if names != expected:
        missing = [n for n in expected if n not in names]
        extra = [n for n in names if n not in expected]
        raise ValueError(
            f"{path}: does not match this model's architecture: the file lacks {missing or 'nothing'} "
            f"and has {extra or 'nothing'} extra (file: {len(names)} arrays, model: {len(expected)})"
        )
    for (name, held), saved in zip(named, arrays):
        if tuple(saved.shape) != held.shape:
            raise ValueError(
                f"{path}: does not match this model's architecture: {name!r} has shape "
                f"{tuple(saved.shape)} in the file but {held.shape} in the model"
            )
    for (_, held), saved in zip(named, arrays):
        xp = namespace_of(value=held.value)
        moved = asarray_like(saved, like=held.value)
        held.value = moved if moved.dtype == held.value.dtype else xp.astype(moved, held.value.dtype)


# ---------------------------------------------------------------- public: models

def save_model(model, path) -> None:
    """Architecture and weights of ``model`` in one file; ``load_model`` builds it again."""
    write_file(path, MODEL_FORMAT, {"architecture": layer_config(model), "state": model_state(model)})


def load_model(path):
    """The model saved in ``path`` (a model file or a training checkpoint), its arrays on the
    active backend."""
    content = read_file(path, (MODEL_FORMAT, CHECKPOINT_FORMAT))
    try:
        with seeded(0):  # building draws initial weights; keep the caller's random stream as it was
            model = layer_from_config(content["architecture"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: cannot rebuild the model from its architecture: {error}") from None
    assign_model_state(model, content.get("state"), path)
    return model


def load_weights(model, path) -> None:
    """Weights from a model file or checkpoint into an existing ``model`` of the same shape."""
    content = read_file(path, (MODEL_FORMAT, CHECKPOINT_FORMAT))
    assign_model_state(model, content.get("state"), path)

