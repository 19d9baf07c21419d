"""Sample and class weights for ``fit`` and ``evaluate``: checked once, before any step.

A weight scales one sample's share of the loss: the loss of a batch is the weighted mean
sum_i w_i l_i / sum_i w_i (``Loss.forward(..., sample_weight=)``), and the epoch's loss the
weighted mean over all its samples. ``class_weight`` ({class: weight}, Keras's form) gives each
sample the weight of its class; with ``sample_weight`` too, the two multiply (as in Keras).
Metrics are not weighted, as Keras's ``metrics`` (its ``weighted_metrics`` are): the
accuracy reported is the share of samples classified right.
"""

from __future__ import annotations

import math
import numbers

from ..backend import asarray, dtype_is, dtype_name, namespace_of, resolve_dtype


def checked(sample_weight, class_weight, y, loss, *, samples: int, outputs: int, dtype, where: str,
            arg: str = "sample_weight"):
    """The per-sample weights, shape (samples,) in ``dtype`` on y's backend, or None when
    neither argument is given. ``y`` is the checked target array. Raises TypeError or
    ValueError naming the argument."""
    if sample_weight is None and class_weight is None:
        return None
    xp = namespace_of(y=y)
    weights = None
    if sample_weight is not None:
        weights = _sample_weight(xp, sample_weight, samples, dtype, where, arg)
    if class_weight is not None:
        by_class = _class_weight(xp, class_weight, y, loss, outputs, dtype, where)
        weights = by_class if weights is None else weights * by_class
    if not bool(xp.any(weights > 0)):
        raise ValueError(f"{where}: every sample has weight 0 ({arg} and class_weight); "
                         "at least one must be positive")
    return weights


def _sample_weight(xp, given, samples, dtype, where, arg):
    try:
        array = asarray(given)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{where}: {arg} cannot be turned into a numeric array: {error}") from None
    if array.ndim == 2 and array.shape[1] == 1:
        array = xp.reshape(array, (-1,))
    if array.ndim != 1 or array.shape[0] != samples:
        raise ValueError(f"{where}: {arg} must have shape ({samples},), one weight per sample, "
                         f"got shape {tuple(array.shape)}")
    if not dtype_is(xp, array.dtype, ("real floating", "integral", "bool")):
        raise TypeError(f"{where}: {arg} must be numeric, got dtype {dtype_name(array.dtype)}")
    array = xp.astype(array, resolve_dtype(xp, dtype))
    bad = ~xp.isfinite(array) | (array < 0)
    if bool(xp.any(bad)):
        first = int(xp.argmax(xp.astype(bad, xp.int8)))
        raise ValueError(f"{where}: {arg} must hold finite weights >= 0; sample {first} has "
                         f"{float(array[first])}")
    return array


def _class_weight(xp, class_weight, y, loss, outputs, dtype, where):
    if not isinstance(class_weight, dict):
        raise TypeError(f"{where}: class_weight must be a dict {{class: weight}}, got "
                        f"{type(class_weight).__name__}")
    if loss.target_kind == "class_labels":
        classes = outputs
        labels = y if y.ndim == 1 else xp.argmax(y, axis=-1)  # one-hot or probability rows
    elif loss.target_kind == "binary" and outputs == 1:
        classes = 2
        labels = xp.astype(xp.reshape(y, (-1,)) > 0.5, xp.int64)
    else:
        kind = "several binary outputs" if loss.target_kind == "binary" else f"the loss {loss!r}"
        raise ValueError(f"{where}: class_weight needs a model that predicts one class per sample "
                         f"(cross-entropy, or binary cross-entropy with one output), not {kind}; "
                         "give per-sample weights as sample_weight")
    table = [1.0] * classes  # classes left out weigh 1, as in Keras
    for key, value in class_weight.items():
        if isinstance(key, bool) or not isinstance(key, numbers.Integral) or not 0 <= key < classes:
            raise ValueError(f"{where}: class_weight has key {key!r}, but the classes are the integers "
                             f"0 to {classes - 1}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{where}: class_weight[{key}] must be a finite number >= 0, got {value!r:.40}")
        table[int(key)] = float(value)
    table = xp.asarray(table, dtype=resolve_dtype(xp, dtype))
    return xp.take(table, xp.astype(labels, xp.int64), axis=0)
