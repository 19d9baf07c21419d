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
import warnings

from .. import optim
from ..backend import (
    asarray_like, dtype_name, host_namespace, is_array, namespace_of, read_arrays, seeded, to_numpy,
    write_arrays_atomically,
)
from ..nn import losses
from ..nn.layer import layer_config, layer_from_config
from . import metrics

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
    arrays, meta = read_arrays(path, referenced=_references)
    kind = meta.get("format") if isinstance(meta, dict) else None
    if kind not in kinds:
        expected = " or ".join(repr(k) for k in kinds)
        raise ValueError(f"{path}: holds {kind!r} data, expected {expected}")
    if meta.get("version") != VERSION:
        raise ValueError(f"{path}: format version {meta.get('version')!r} is not one this xpnn reads ({VERSION})")
    if not isinstance(meta.get("content"), dict):
        raise ValueError(f"{path}: corrupted: its content is {type(meta.get('content')).__name__}, not a dict")
    try:
        return _join_arrays(meta["content"], arrays)
    except RecursionError:
        raise ValueError(f"{path}: corrupted: its content nests too deep") from None
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


def _references(tree):
    """The array names a file's JSON refers to: only those are read from the archive."""
    if isinstance(tree, dict):
        if set(tree) == {_ARRAY} and isinstance(tree[_ARRAY], str):
            yield tree[_ARRAY]
        else:
            for value in tree.values():
                yield from _references(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _references(value)


def _join_arrays(tree, arrays: dict):
    if isinstance(tree, dict):
        if set(tree) == {_ARRAY}:
            key = tree[_ARRAY]
            if not isinstance(key, str) or key not in arrays:
                raise KeyError(key)
            return arrays[key]
        return {key: _join_arrays(value, arrays) for key, value in tree.items()}
    if isinstance(tree, list):
        return [_join_arrays(value, arrays) for value in tree]
    return tree


# ---------------------------------------------------------------- model state

def model_state(model) -> dict:
    """Names and arrays of every parameter and buffer, in ``named_state`` order."""
    named = model.named_state()
    return {"names": [name for name, _ in named], "arrays": [held.value for _, held in named]}


def checked_model_state(model, state: dict, path, entry: str = "state") -> list:
    """The saved arrays of ``state`` (``model_state`` output), on the model's backend and in
    each slot's dtype, after checking that the names, the count, every shape and every dtype
    (real numbers only: bool, complex, text and structured arrays are refused, not cast) match
    the model. Nothing is changed; ValueError names the file and the entry."""
    named = model.named_state()
    try:
        names, arrays = list(state["names"]), list(state["arrays"])
    except (KeyError, TypeError, IndexError, ValueError):
        raise ValueError(f"{path}: corrupted: no model state in it") from None
    if len(names) != len(arrays):
        raise ValueError(f"{path}: corrupted: {entry} names {len(names)} arrays but holds {len(arrays)}")
    expected = [name for name, _ in named]
    if names != expected:
        missing = [n for n in expected if n not in names]
        extra = [n for n in names if n not in expected]
        raise ValueError(
            f"{path}: does not match this model's architecture: the file lacks {missing or 'nothing'} "
            f"and has {extra or 'nothing'} extra (file: {len(names)} arrays, model: {len(expected)})"
        )
    host = host_namespace()
    for (name, held), saved in zip(named, arrays):
        if not is_array(saved):
            raise ValueError(f"{path}: corrupted: {entry} {name!r} is not an array")
        if not _real_numbers(host, saved.dtype):
            raise ValueError(f"{path}: corrupted: {entry} {name!r} has dtype {dtype_name(saved.dtype)}; "
                             "model arrays hold real numbers")
        if tuple(saved.shape) != held.shape:
            raise ValueError(
                f"{path}: does not match this model's architecture: {name!r} has shape "
                f"{tuple(saved.shape)} in the file but {held.shape} in the model"
            )
    moved = []
    for (_, held), saved in zip(named, arrays):
        xp = namespace_of(value=held.value)
        array = asarray_like(saved, like=held.value)
        moved.append(array if array.dtype == held.value.dtype else xp.astype(array, held.value.dtype))
    return moved


def _real_numbers(xp, dtype) -> bool:
    try:
        return bool(xp.isdtype(dtype, ("real floating", "integral"))) and dtype_name(dtype) != "bool"
    except (TypeError, ValueError):  # structured, text or object dtypes
        return False


def assign_model_state(model, state: dict, path) -> None:
    """Copy saved arrays into ``model`` after ``checked_model_state``; on any mismatch
    nothing is changed."""
    for (_, held), array in zip(model.named_state(), checked_model_state(model, state, path)):
        held.value = array


# ---------------------------------------------------------------- the training configuration

def _rebuildable(registry, thing) -> dict | None:
    """``registry.config_of(thing)`` when the config rebuilds an equal thing, else None (a
    user's own class, or one whose settings the config does not hold)."""
    try:
        config = registry.config_of(thing)
        rebuilt = registry.from_config(config)
    except (TypeError, ValueError, NotImplementedError):
        return None
    return config if type(rebuilt) is type(thing) and rebuilt.get_config() == thing.get_config() else None


def training_config(loss, metric_list, optimizer=None) -> dict | None:
    """What a model was trained with, as JSON and arrays: the loss's config, each metric's
    config (its settings too: ``TopKAccuracy(k=2)`` stays k=2) and (for a model file) the
    optimizer's state, so a loaded model evaluates and trains on without repeating them, as
    Keras's ``compile`` state survives saving. None, with a warning, for a loss xpnn cannot
    rebuild (a user's own Loss class); a user's own metric is left out, with a warning."""
    loss_config = _rebuildable(losses.LOSSES, loss)
    if loss_config is None:
        warnings.warn(f"the loss {loss!r} is not one xpnn can rebuild from a file: the model is saved "
                      "without its training configuration (give loss= again after loading)",
                      UserWarning, stacklevel=4)
        return None
    metric_configs = []
    for metric in metric_list:
        config = _rebuildable(metrics.METRICS, metric)
        if config is None:
            warnings.warn(f"the metric {type(metric).__name__} is not one xpnn can rebuild from a file: the "
                          "model is saved without it", UserWarning, stacklevel=4)
        else:
            metric_configs.append(config)
    config = {"loss": loss_config, "metrics": metric_configs}
    if optimizer is not None:
        config["optimizer"] = optimizer.state_dict()
    return config


def restore_training_config(model, content: dict, path) -> None:
    """Set ``model.loss``, ``model.metrics`` and ``model.optimizer`` (its state bound to the
    model's parameters) from a file's training configuration, when it has one."""
    config = content.get("training")
    if config is None:
        return
    try:
        loss = losses.LOSSES.from_config(config["loss"])
        metric_list = [metrics.METRICS.from_config(entry) for entry in config["metrics"]]
        spec = config.get("optimizer", content.get("optimizer"))
        optimizer = None if spec is None else optim.optimizer_from_state(spec, model.parameters())
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: corrupted training configuration: {error}") from None
    model.loss, model.metrics, model.optimizer = loss, metric_list, optimizer


# ---------------------------------------------------------------- public: models

def save_model(model, path, training: dict | None = None) -> None:
    """Architecture and weights of ``model`` in one file, plus ``training`` (from
    ``training_config``) when given; ``load_model`` builds it again."""
    content = {"architecture": layer_config(model), "state": model_state(model)}
    if training is not None:
        content["training"] = training
    write_file(path, MODEL_FORMAT, content)


def load_model(path):
    """The model saved in ``path`` (a model file or a training checkpoint), its arrays on the
    active backend; a model saved after training also gets back its ``loss``, ``metrics`` and
    ``optimizer``."""
    content = read_file(path, (MODEL_FORMAT, CHECKPOINT_FORMAT))
    try:
        with seeded(0):  # building draws initial weights; keep the caller's random stream as it was
            model = layer_from_config(content["architecture"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: cannot rebuild the model from its architecture: {error}") from None
    assign_model_state(model, content.get("state"), path)
    restore_training_config(model, content, path)
    model.loaded_from = path  # callbacks refuse to write over it (a model saved back with save() is fine)
    return model


def load_weights(model, path) -> None:
    """Weights from a model file or checkpoint into an existing ``model`` of the same shape."""
    content = read_file(path, (MODEL_FORMAT, CHECKPOINT_FORMAT))
    assign_model_state(model, content.get("state"), path)

