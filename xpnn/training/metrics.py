"""Metrics accumulated over batches on the device and read once, at the end of an epoch.

``update(pred, target)`` adds a batch's statistics as device arrays (no host read, so a GPU
never waits); ``result()`` reads them once. Everything is accumulated in float64 and in a form
that does not cancel: counts and sums of non-negative terms, and for R² the mean and the sum of
squared deviations combined batch by batch with Chan et al.'s parallel formula (never
``sum(y²) - sum(y)²/n``, which loses every digit on targets far from zero).
"""

from __future__ import annotations

import math

from ..backend import namespace_of
from ..utils.registry import Registry, normalize


class Metric:
    name = "metric"

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self._sums = None  # device arrays
        self._count = 0  # known on the host from shapes: no transfer needed

    def _add(self, xp, count: int, *values) -> None:
        values = [xp.astype(v, xp.float64) for v in values]
        self._sums = values if self._sums is None else [s + v for s, v in zip(self._sums, values)]
        self._count += count

    def update(self, pred, target) -> None:
        raise NotImplementedError

    def result(self) -> float:
        if self._sums is None:
            raise ValueError(f"{self.name}: no batch was seen")
        return float(self._sums[0]) / self._count


def _matching_target(xp, pred, target):
    """Regression targets as pred's shape and dtype: (n,) targets for (n, 1) predictions too."""
    if target.ndim == 1 and pred.ndim == 2 and pred.shape[1] == 1:
        target = xp.reshape(target, (-1, 1))
    return target if target.dtype == pred.dtype else xp.astype(target, pred.dtype)


class Accuracy(Metric):
    """Share of rows whose arg-max matches the integer label (or the one-hot row's arg-max)."""

    name = "accuracy"

    def update(self, pred, target) -> None:
        xp = namespace_of(pred=pred, target=target)
        predicted = xp.argmax(pred, axis=-1)
        labels = target if target.ndim == 1 else xp.argmax(target, axis=-1)
        if labels.dtype != predicted.dtype:
            labels = xp.astype(labels, predicted.dtype)
        # count_nonzero: a fraction of the microseconds of a float64 cast and a sum, same count
        self._add(xp, pred.shape[0], xp.count_nonzero(predicted == labels))


class BinaryAccuracy(Metric):
    """Share of outputs on the right side of ``threshold`` (0.5 for probabilities, 0 for logits)."""

    name = "binary_accuracy"

    def __init__(self, threshold: float = 0.5):
        self.threshold = float(threshold)
        super().__init__()

    def update(self, pred, target) -> None:
        xp = namespace_of(pred=pred, target=target)
        target = _matching_target(xp, pred, target)
        hits = xp.sum(xp.astype((pred > self.threshold) == (target > 0.5), xp.float64))
        self._add(xp, _size(pred), hits)


def _size(array) -> int:
    return math.prod(array.shape)


def _as_float64(xp, array):
    return array if array.dtype == xp.float64 else xp.astype(array, xp.float64)


class MeanAbsoluteError(Metric):
    """mean(|pred - target|) over all entries (scikit-learn's ``mean_absolute_error``, averaged
    over outputs); the differences are taken in float64, so float32 batches lose nothing."""

    name = "mae"

    def update(self, pred, target) -> None:
        xp = namespace_of(pred=pred, target=target)
        diff = _as_float64(xp, pred) - _as_float64(xp, _matching_target(xp, pred, target))
        self._add(xp, _size(diff), xp.sum(xp.abs(diff)))


class MeanSquaredError(Metric):
    """mean((pred - target)²) over all entries (scikit-learn's ``mean_squared_error``);
    squared in float64, so float32 differences beyond 1.8e19 do not overflow to inf."""

    name = "mse"

    def update(self, pred, target) -> None:
        xp = namespace_of(pred=pred, target=target)
        diff = _as_float64(xp, pred) - _as_float64(xp, _matching_target(xp, pred, target))
        self._add(xp, _size(diff), xp.sum(diff * diff))


class R2(Metric):
    """Coefficient of determination 1 - SS_res / SS_tot per output, averaged over outputs
    (scikit-learn's ``r2_score`` with multioutput='uniform_average'). ``pred`` (n, outputs),
    ``target`` (n, outputs), or (n,) for one output.

    SS_tot is accumulated as each batch's mean and sum of squared deviations from it, merged
    with Chan, Golub and LeVeque's parallel update, on targets shifted by the first one seen,
    so targets far from zero and nearly constant ones keep their digits.
    An output whose target is constant (its minimum equals its maximum) scores 1.0 when it is
    predicted exactly and 0.0 otherwise, scikit-learn's convention: never inf or nan.
    """

    name = "r2"

    def update(self, pred, target) -> None:
        xp = namespace_of(pred=pred, target=target)
        y = _as_float64(xp, _matching_target(xp, pred, target))
        residual = _as_float64(xp, pred) - y
        if self._sums is None:
            self._shift = y[:1, ...]  # the first target: near-constant targets become small and exact
        y = y - self._shift
        n = pred.shape[0]
        mean = xp.sum(y, axis=0) / n
        deviation = y - mean
        stats = [xp.sum(residual * residual, axis=0), mean, xp.sum(deviation * deviation, axis=0),
                 xp.min(y, axis=0), xp.max(y, axis=0)]
        if self._sums is None:
            self._sums, self._count = stats, n
            return
        ss_res, total_mean, ss_tot, low, high = self._sums
        seen = self._count
        total = seen + n
        delta = stats[1] - total_mean
        self._sums = [ss_res + stats[0], total_mean + delta * (n / total),
                      ss_tot + stats[2] + delta * delta * (seen * n / total),
                      xp.minimum(low, stats[3]), xp.maximum(high, stats[4])]
        self._count = total

    def result(self) -> float:
        if self._sums is None:
            raise ValueError(f"{self.name}: no batch was seen")
        ss_res, _, ss_tot, low, high = self._sums
        xp = namespace_of(ss_res=ss_res)
        constant = (low == high) | (ss_tot == 0.0)
        safe_tot = xp.where(constant, 1.0, ss_tot)
        convention = xp.astype(ss_res == 0.0, xp.float64)
        per_output = xp.where(constant, convention, 1.0 - ss_res / safe_tot)
        return float(xp.mean(per_output))


METRICS = Registry("metric", Metric)
METRICS.add(Accuracy, "accuracy", "acc", "categorical_accuracy")
METRICS.add(BinaryAccuracy, "binary_accuracy")
METRICS.add(MeanAbsoluteError, "mae", "mean_absolute_error")
METRICS.add(MeanSquaredError, "mse", "mean_squared_error")
METRICS.add(R2, "r2", "r2_score")


def get(spec, **arguments) -> Metric:
    """A fresh metric from a name ('accuracy', 'mae', ...) or a Metric class, or a Metric
    instance (returned as is). ValueError for an unknown name, listing the valid ones."""
    return METRICS.get(spec, **arguments)


def for_loss(spec, loss, where: str) -> list[Metric]:
    """The metrics ``fit``/``evaluate`` compute for ``spec`` with ``loss``: "auto" is accuracy
    for classification losses and none otherwise; "accuracy" with a binary loss is binary
    accuracy (Keras' rule), thresholded where the loss's predictions split the classes (0 for
    logits, 0.5 for probabilities). Raises ValueError naming ``where`` for an unknown or
    repeated metric."""
    if spec == "auto":
        spec = ("accuracy",) if loss.target_kind in ("class_labels", "binary") else ()
    if spec is None:
        spec = ()
    if isinstance(spec, (str, Metric)):
        spec = (spec,)
    found = []
    for item in spec:
        if isinstance(item, str) and normalize(item) in ("accuracy", "acc") and loss.target_kind == "binary":
            found.append(BinaryAccuracy(threshold=0.0 if loss.prediction_kind == "logits" else 0.5))
            continue
        try:
            found.append(get(item))
        except (ValueError, TypeError) as error:
            raise ValueError(f"{where}: metrics: {error}") from None
    names = [metric.name for metric in found]
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: metrics lists {names}; each metric may appear once")
    return found
