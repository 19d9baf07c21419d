"""Checking and moving training data: every problem is found before the first training step.

``fit``, ``predict`` and ``evaluate`` call these once per call. Each check names the argument
and says what was seen. Data is moved to the active backend once (arrays already there are
used in place); the few value checks (NaN/inf, label range) are device reductions read back
once, never per batch.
"""

from __future__ import annotations

import warnings

from ..backend import asarray, dtype_name, namespace_of, resolve_dtype


def model_dtype(model, fallback="float32"):
    """The float dtype data must have to meet ``model``: that of its first parameter."""
    parameters = model.parameters()
    return parameters[0].dtype if parameters else fallback


def input_width(model):
    """The number of features the model's first layer takes, or None where it is not known."""
    layer = model
    while not hasattr(layer, "in_features") and getattr(layer, "layers", None):
        layer = layer.layers[0]
    width = getattr(layer, "in_features", None)
    return width if isinstance(width, int) else None


def features(X, arg: str, where: str, dtype, width=None):
    """``X`` as a finite float array of shape (samples, ...) on the active backend: (samples,
    features) for Dense layers, (samples, channels, height, width) for Conv2D, any N-D.
    ``width`` (the model's input features, when known) makes the advice for a 1-D X the right one."""
    array = _on_backend(X, arg, where)
    xp = namespace_of(**{arg: array})
    if array.ndim < 2:
        one_sample = array.ndim == 1 and width is not None and width > 1 and array.shape[0] == width
        advice = (f"it looks like one sample of {width} features: use {arg}.reshape(1, -1)" if one_sample
                  else f"reshape a single feature with {arg}.reshape(-1, 1)")
        raise ValueError(
            f"{where}: {arg} must have shape (samples, features) or (samples, ...), such as images "
            f"(samples, channels, height, width), got shape {tuple(array.shape)}; {advice}"
        )
    if array.shape[0] == 0:
        raise ValueError(f"{where}: {arg} is empty (shape {tuple(array.shape)}); it needs at least one sample")
    if not xp.isdtype(array.dtype, ("real floating", "integral", "bool")):
        raise TypeError(f"{where}: {arg} must be numeric, got dtype {dtype_name(array.dtype)}")
    finite_before = not xp.isdtype(array.dtype, "real floating") or bool(xp.all(xp.isfinite(array)))
    array = _as_dtype(xp, array, dtype)
    _require_finite(xp, array, arg, where, before_cast=finite_before)
    return array


def targets(y, arg: str, where: str, *, samples: int, loss, outputs: int, dtype):
    """``y`` checked against the data (same length), the loss and the model's output width."""
    array = _on_backend(y, arg, where)
    xp = namespace_of(**{arg: array})
    if array.ndim == 0 or array.shape[0] != samples:
        got = "a scalar" if array.ndim == 0 else f"{array.shape[0]} samples"
        raise ValueError(
            f"{where}: {arg} has {got} but X has {samples}; they must have the same length"
        )
    if not xp.isdtype(array.dtype, ("real floating", "integral", "bool")):
        raise TypeError(f"{where}: {arg} must be numeric, got dtype {dtype_name(array.dtype)}")
    if xp.isdtype(array.dtype, "real floating"):
        _require_finite(xp, array, arg, where)
    if loss.target_kind == "class_labels" and array.ndim == 1:
        return _class_labels(xp, array, arg, where, outputs)
    if loss.target_kind == "binary":
        _require_between_0_and_1(xp, array, arg, where)
    if array.ndim == 1 and outputs == 1:
        array = xp.reshape(array, (samples, 1))  # one regression target per sample
    if loss.target_kind == "class_labels":
        array = _as_dtype(xp, array, dtype)
        _require_finite(xp, array, arg, where, before_cast=True)
        _require_probability_rows(xp, array, arg, where)
        return array
    if xp.isdtype(array.dtype, "integral") or array.dtype == dtype:
        return array
    cast = _as_dtype(xp, array, dtype)
    _require_finite(xp, cast, arg, where, before_cast=True)  # 1e39 is finite, but not in float32
    return cast


def _require_probability_rows(xp, rows, arg, where):
    """Cross-entropy's probability targets: every entry in [0, 1], every row summing to 1
    (within 1e-3, room for rounded or smoothed labels), as its docstring promises."""
    low, high = float(xp.min(rows)), float(xp.max(rows))
    if low < 0 or high > 1:
        raise ValueError(f"{where}: {arg} holds probability rows for cross-entropy, so its values must lie "
                         f"in [0, 1]; got values from {low:.4g} to {high:.4g} (integer class labels of "
                         f"shape (samples,) are the other choice)")
    sums = xp.sum(xp.astype(rows, xp.float64), axis=-1)
    worst = int(xp.argmax(xp.abs(sums - 1.0)))
    if abs(float(sums[worst]) - 1.0) > 1e-3:
        raise ValueError(f"{where}: {arg} holds probability rows for cross-entropy, so each row must sum "
                         f"to 1; row {worst} sums to {float(sums[worst]):.6g}")


def _class_labels(xp, labels, arg, where, classes):
    if xp.isdtype(labels.dtype, "real floating"):
        if not bool(xp.all(labels == xp.round(labels))):
            raise ValueError(f"{where}: {arg} holds class labels for cross-entropy, so it must hold whole numbers")
        labels = xp.astype(labels, xp.int64)
    elif labels.dtype == xp.bool:
        labels = xp.astype(labels, xp.int64)
    low, high = int(xp.min(labels)), int(xp.max(labels))
    if low < 0 or high >= classes:
        raise ValueError(
            f"{where}: {arg} has class labels from {low} to {high}, but the model has {classes} "
            f"outputs, so labels must lie in [0, {classes - 1}]"
        )
    return labels


def _require_between_0_and_1(xp, array, arg, where):
    low, high = float(xp.min(array)), float(xp.max(array))
    if low < 0 or high > 1:
        raise ValueError(
            f"{where}: {arg} must hold 0/1 labels or probabilities in [0, 1] for binary "
            f"cross-entropy, got values from {low} to {high}"
        )


def _on_backend(data, arg, where):
    if data is None:
        raise TypeError(f"{where}: {arg} is required, got None")
    try:
        return asarray(data)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{where}: {arg} cannot be turned into a numeric array: {error}") from None


def _as_dtype(xp, array, dtype):
    if array.dtype == dtype:
        return array
    with warnings.catch_warnings():  # an overflow is reported by _require_finite, with the fix
        warnings.simplefilter("ignore", RuntimeWarning)
        return xp.astype(array, resolve_dtype(xp, dtype))


def _require_finite(xp, array, arg, where, before_cast=False):
    """Refuse NaN or infinity in ``array``; ``before_cast=True`` when the values were finite
    before the cast to the model's dtype, so infinity means they overflowed it."""
    finite = xp.isfinite(array)
    if bool(xp.all(finite)):
        return
    if before_cast:
        raise ValueError(
            f"{where}: {arg} has values too large for {dtype_name(array.dtype)} (they overflow to "
            f"infinity; its largest finite value is {float(xp.finfo(array.dtype).max):.4g}); scale them first"
        )
    nan = int(xp.sum(xp.astype(xp.isnan(array), xp.int64)))
    inf = int(xp.sum(xp.astype(xp.isinf(array), xp.int64)))
    rows = xp.reshape(finite, (array.shape[0], -1)) if array.ndim > 1 else xp.reshape(finite, (-1, 1))
    first = int(xp.argmax(xp.astype(~xp.all(rows, axis=1), xp.int8)))
    raise ValueError(
        f"{where}: {arg} contains {nan} NaN and {inf} infinite values (first in sample {first}); "
        "remove or impute them first"
    )


def probe_output(model, X, where: str):
    """Run the model on one sample: a feature-count mismatch is reported as a problem with X,
    and the output width (the number of classes) becomes known before any training."""
    try:
        return model(X[:1, ...])
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"{where}: X of shape {tuple(X.shape)} does not fit the model: {error}"
        ) from None
