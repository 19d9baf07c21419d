"""Metrics accumulated over batches on the device and read once, at the end of an epoch.

``update(pred, target)`` adds a batch's statistics as device arrays (no host read, so a GPU
never waits); ``result()`` reads them once. Everything is accumulated in float64 and in a form
that does not cancel: counts and sums of non-negative terms, and for R² the mean and the sum of
squared deviations combined batch by batch with Chan et al.'s parallel formula (never
``sum(y²) - sum(y)²/n``, which loses every digit on targets far from zero).

Each metric declares what it compares (``compares``; a metric that declares nothing, such as
a user's subclass of ``Metric``, is not checked), and ``check_compatible`` refuses a
metric that cannot be computed from a loss's targets and the model's outputs before the first
step, saying what to use instead:

- ``"values"`` (mae, mse, r2): outputs against targets of the same shape. Losses with
  ``target_kind`` "values", or a binary loss on probabilities (the Brier score); never class
  labels, and never logits against 0/1 labels.
- ``"classes"`` (accuracy, top_k_accuracy): the arg-max of the outputs against integer labels
  or one-hot rows. Any loss, as Keras allows (mse on one-hot rows is legitimate), but at least
  two outputs: the arg-max of one output is always class 0.
- ``"binary"`` (binary_accuracy, auc): each output as a yes/no score against 0/1 labels, for
  losses of ``target_kind`` "binary" or "values" (mse on 0/1 labels); not class labels.
- ``"binary or classes"`` (precision, recall, f1): yes/no per output with a binary or values
  loss, one class per sample (arg-max) with a class-label loss.

Thresholds follow the loss: ``fit``/``evaluate`` call ``metric.bind(loss)`` on every metric,
so a thresholded metric left without a ``threshold`` splits logits at 0 and probabilities at
0.5, however it was named or made.
"""

from __future__ import annotations

import math

from ..backend import dtype_is, namespace_of
from ..utils.registry import Registry, normalize
from ..utils.validation import check_choice, check_int, check_number

AVERAGES = ("binary", "macro", "micro", "weighted")


class Metric:
    """Base class: ``update(pred, target)`` per batch, ``result()`` once, ``reset()``."""

    name = "metric"
    compares = None  # "values", "classes", "binary", "binary or classes" (module docstring); None: unchecked

    def __init__(self):
        self._target_kind = None  # the bound loss's target_kind, None when unbound
        self._loss_threshold = None
        self.reset()

    def reset(self) -> None:
        self._sums = None  # device arrays
        self._count = 0  # known on the host from shapes: no transfer needed

    def get_config(self) -> dict:
        """Constructor arguments as JSON values: a saved model keeps its metrics' settings."""
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Metric":
        return cls(**config)

    def bind(self, loss) -> None:
        """Learn from ``loss`` what the outputs are: the threshold between the two classes
        (0 for logits, 0.5 otherwise) and whether targets are class labels."""
        self._target_kind = loss.target_kind
        self._loss_threshold = 0.0 if loss.prediction_kind == "logits" else 0.5

    def problem(self, loss, outputs: int) -> str | None:
        """Why this metric cannot be computed for ``loss`` on a model of ``outputs`` outputs
        (with what to use instead), or None when it can."""
        kind, predicts = loss.target_kind, loss.prediction_kind
        loss_name = _loss_name(loss)
        if self.compares is None:  # a metric that declares nothing is not checked
            return None
        if self.compares == "values":
            if kind == "class_labels":
                return (f"{self.name} compares outputs with targets of the same shape (a regression "
                        f"metric), but {loss_name} is trained on class labels; use 'accuracy' (or "
                        f"'top_k_accuracy', 'precision', 'recall', 'f1') instead")
            if kind == "binary" and predicts == "logits":
                return (f"{self.name} would compare logits with 0/1 labels, since {loss_name} takes "
                        f"logits; use 'binary_accuracy', 'precision', 'recall', 'f1' or 'auc' instead "
                        f"(or a loss on probabilities, such as binary_cross_entropy with from_logits=False)")
            return None
        if self.compares == "classes" or (self.compares == "binary or classes" and kind == "class_labels"):
            if outputs < 2:
                instead = ("'binary_accuracy', 'precision', 'recall', 'f1' or 'auc' for one 0/1 output"
                           if kind == "binary" else
                           "'mae', 'mse' or 'r2' for a real-valued target, or 'binary_accuracy' for a 0/1 target"
                           if kind == "values" else "a model with one output per class")
                return (f"{self.name} takes the arg-max over the outputs, and the model has one output, "
                        f"so it would always predict class 0; use {instead}")
            return None
        if kind == "class_labels":  # "binary", or "binary or classes" handled above
            return (f"{self.name} scores each output as yes/no against 0/1 labels, but {loss_name} is "
                    f"trained on class labels; use 'accuracy' instead (or binary_cross_entropy with one "
                    f"output per yes/no question)")
        return None

    def _add(self, xp, count: int, *values) -> None:
        values = [xp.astype(v, xp.float64) for v in values]
        self._sums = values if self._sums is None else [s + v for s, v in zip(self._sums, values)]
        self._count += count

    def update(self, pred, target) -> None:
        raise NotImplementedError

    def _require_batches(self) -> None:
        if self._sums is None:
            raise ValueError(f"{self.name}: no batch was seen")

    def result(self) -> float:
        self._require_batches()
        return float(self._sums[0]) / self._count


def _loss_name(loss) -> str:
    return f"the loss {getattr(loss, 'name', type(loss).__name__)!r}"


def _matching_target(xp, pred, target):
    """Regression targets as pred's shape and dtype: (n,) targets for (n, 1) predictions too."""
    if target.ndim == 1 and pred.ndim == 2 and pred.shape[1] == 1:
        target = xp.reshape(target, (-1, 1))
    return target if target.dtype == pred.dtype else xp.astype(target, pred.dtype)


def _labels(xp, target):
    """Integer class labels (n,) from labels or one-hot / probability rows (their arg-max)."""
    if target.ndim != 1:
        return xp.argmax(target, axis=-1)
    return target if dtype_is(xp, target.dtype, "integral") else xp.astype(target, xp.int64)


def _one_hot(xp, labels, classes: int):
    return labels[:, None] == xp.arange(classes, dtype=labels.dtype)


def _size(array) -> int:
    return math.prod(array.shape)


def _as_float64(xp, array):
    return array if array.dtype == xp.float64 else xp.astype(array, xp.float64)


class Accuracy(Metric):
    """Share of rows whose arg-max matches the integer label (or the one-hot row's arg-max).

    ``pred`` (n, classes), ``target`` (n,) labels or (n, classes) rows; ties go to the first
    maximum. scikit-learn's ``accuracy_score(labels, pred.argmax(1))``."""

    name = "accuracy"
    compares = "classes"

    def update(self, pred, target) -> None:
        xp = namespace_of(pred=pred, target=target)
        predicted = xp.argmax(pred, axis=-1)
        labels = _labels(xp, target)
        if labels.dtype != predicted.dtype:
            labels = xp.astype(labels, predicted.dtype)
        # count_nonzero: a fraction of the microseconds of a float64 cast and a sum, same count
        self._add(xp, pred.shape[0], xp.count_nonzero(predicted == labels))


class _Thresholded(Metric):
    """A metric that splits each output at ``threshold``; None takes the bound loss's (0 for
    logits, 0.5 for probabilities), or 0.5 when the metric was never bound."""

    def __init__(self, threshold: float | None = None):
        self.threshold = None if threshold is None else check_number(threshold, "threshold", type(self).__name__)
        super().__init__()

    def get_config(self) -> dict:
        return {"threshold": self.threshold}

    def _threshold(self) -> float:
        if self.threshold is not None:
            return self.threshold
        return 0.5 if self._loss_threshold is None else self._loss_threshold


class BinaryAccuracy(_Thresholded):
    """Share of outputs on the right side of the threshold: ``pred > threshold`` against
    ``target > 0.5``, over all n * outputs entries (scikit-learn's ``accuracy_score`` on the
    flattened yes/no arrays). ``pred`` (n,) or (n, outputs), ``target`` of the same size."""

    name = "binary_accuracy"
    compares = "binary"

    def update(self, pred, target) -> None:
        xp = namespace_of(pred=pred, target=target)
        target = _matching_target(xp, pred, target)
        hits = xp.count_nonzero((pred > self._threshold()) == (target > 0.5))
        self._add(xp, _size(pred), hits)


class MeanAbsoluteError(Metric):
    """mean(|pred - target|) over all entries (scikit-learn's ``mean_absolute_error``, averaged
    over outputs); the differences are taken in float64, so float32 batches lose nothing."""

    name = "mae"
    compares = "values"

    def update(self, pred, target) -> None:
        xp = namespace_of(pred=pred, target=target)
        diff = _as_float64(xp, pred) - _as_float64(xp, _matching_target(xp, pred, target))
        self._add(xp, _size(diff), xp.sum(xp.abs(diff)))


class MeanSquaredError(Metric):
    """mean((pred - target)²) over all entries (scikit-learn's ``mean_squared_error``);
    squared in float64, so float32 differences beyond 1.8e19 do not overflow to inf."""

    name = "mse"
    compares = "values"

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
    compares = "values"

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
        self._require_batches()
        ss_res, _, ss_tot, low, high = self._sums
        xp = namespace_of(ss_res=ss_res)
        constant = (low == high) | (ss_tot == 0.0)
        safe_tot = xp.where(constant, 1.0, ss_tot)
        convention = xp.astype(ss_res == 0.0, xp.float64)
        per_output = xp.where(constant, convention, 1.0 - ss_res / safe_tot)
        return float(xp.mean(per_output))


class _Confusion(_Thresholded):
    """Precision, recall and F1 from per-class counts of true positives, predicted positives
    and actual positives, summed on the device (scikit-learn's
    ``precision_recall_fscore_support``).

    Bound to a binary (or values) loss, each output is a yes/no question, ``pred > threshold``
    against ``target > 0.5``: one output with ``average="binary"`` scores the positive class;
    other averages treat one output as the two classes 0 and 1, several outputs as labels of a
    multi-label problem (one per column). Bound to a class-label loss, the arg-max of ``pred``
    (n, classes) is compared with integer labels (n,) or one-hot rows; ``average="binary"``
    then needs two classes and scores class 1. Unbound, (n, classes > 1) predictions with (n,)
    labels are multi-class, anything else yes/no per output.

    ``average``: "binary" (the default, as scikit-learn's), "macro" (the unweighted mean over
    the classes present in the targets or predictions, every column in the multi-label case),
    "micro" (from the counts summed over classes), "weighted" (the mean weighted by each
    class's number of true samples). ``zero_division`` (0 or 1) is the value of a ratio whose
    denominator is 0; 0 is what scikit-learn's default "warn" gives, without the warning.
    """

    compares = "binary or classes"

    def __init__(self, average: str = "binary", *, threshold: float | None = None, zero_division: float = 0):
        where = type(self).__name__
        self.average = check_choice(average, "average", where, AVERAGES)
        if isinstance(zero_division, bool) or zero_division not in (0, 1):
            raise ValueError(f"{where}: zero_division must be 0 or 1, got {zero_division!r:.80}")
        self.zero_division = float(zero_division)
        super().__init__(threshold)

    def get_config(self) -> dict:
        return {"average": self.average, "threshold": self.threshold, "zero_division": int(self.zero_division)}

    def problem(self, loss, outputs: int) -> str | None:
        reason = super().problem(loss, outputs)
        if reason is not None or self.average != "binary":
            return reason
        if loss.target_kind == "class_labels" and outputs != 2:
            return (f"{self.name} with average='binary' scores class 1 of two classes, and the model "
                    f"has {outputs} outputs; use xpnn.metrics.{type(self).__name__}(average='macro', 'micro' or 'weighted')")
        if loss.target_kind != "class_labels" and outputs != 1:
            return (f"{self.name} with average='binary' scores one yes/no output, and the model has "
                    f"{outputs} (a multi-label problem); use xpnn.metrics.{type(self).__name__}(average='macro', 'micro' or 'weighted')")
        return None

    def _multi_class(self, pred, target) -> bool:
        if self._target_kind is not None:
            return self._target_kind == "class_labels"
        return pred.ndim == 2 and pred.shape[1] > 1 and target.ndim == 1

    def update(self, pred, target) -> None:
        xp = namespace_of(pred=pred, target=target)
        n = pred.shape[0]
        if self._multi_class(pred, target):
            classes = pred.shape[1]
            labels = _labels(xp, target)
            predicted = _one_hot(xp, xp.astype(xp.argmax(pred, axis=-1), labels.dtype), classes)
            actual = _one_hot(xp, labels, classes)
            self._mode = "binary of two" if self.average == "binary" else "classes"
        else:
            target = _matching_target(xp, pred, target)
            predicted = pred > self._threshold()
            actual = target > 0.5
            if predicted.ndim == 1:
                predicted, actual = predicted[:, None], actual[:, None]
            if predicted.shape[1] == 1 and self.average != "binary":
                # one yes/no output read as the two classes 0 and 1, as scikit-learn reads it
                predicted = xp.concat([~predicted, predicted], axis=1)
                actual = xp.concat([~actual, actual], axis=1)
                self._mode = "classes"
            else:
                self._mode = "labels" if predicted.shape[1] > 1 else "binary"
        self._add(xp, n, xp.count_nonzero(predicted & actual, axis=0), xp.count_nonzero(predicted, axis=0),
                  xp.count_nonzero(actual, axis=0))

    def _scores(self):
        """(precision, recall, f1) of the chosen average, read from the device once."""
        self._require_batches()
        tp, predicted, actual = self._sums
        xp = namespace_of(tp=tp)
        if self._mode == "binary of two":
            if tp.shape[0] != 2:
                raise ValueError(f"{self.name}: average='binary' needs two classes, the predictions have "
                                 f"{tp.shape[0]}; use xpnn.metrics.{type(self).__name__}(average='macro', 'micro' or 'weighted')")
            tp, predicted, actual = tp[1:], predicted[1:], actual[1:]
        elif self._mode == "binary" and tp.shape[0] != 1:
            raise ValueError(f"{self.name}: average='binary' needs one yes/no output, the predictions "
                             f"have {tp.shape[0]}; use xpnn.metrics.{type(self).__name__}(average='macro', 'micro' or 'weighted')")
        elif self.average == "micro":
            tp, predicted, actual = (xp.reshape(xp.sum(a), (1,)) for a in (tp, predicted, actual))
        zero = self.zero_division

        def ratio(numerator, denominator):
            return xp.where(denominator == 0, zero, numerator / xp.where(denominator == 0, 1.0, denominator))

        per_class = xp.stack([ratio(tp, predicted), ratio(tp, actual), ratio(2 * tp, predicted + actual)])
        if self.average in ("macro", "weighted") and self._mode == "classes":
            present = (predicted + actual) > 0  # scikit-learn's labels: those seen in y_true or y_pred
        else:
            present = xp.ones(tp.shape, dtype=xp.bool)
        weights = xp.astype(present, xp.float64)
        if self.average == "weighted":
            weights = actual * weights
        # all weights zero: scikit-learn falls back to the plain mean of the classes present
        weights = xp.where(xp.sum(weights) == 0, xp.astype(present, xp.float64), weights)
        return [float(v) for v in xp.sum(per_class * weights, axis=1) / xp.sum(weights)]


class Precision(_Confusion):
    """tp / (tp + fp): scikit-learn's ``precision_score``."""

    name = "precision"
    __doc__ = __doc__ + "\n\n    " + _Confusion.__doc__

    def result(self) -> float:
        return self._scores()[0]


class Recall(_Confusion):
    """tp / (tp + fn): scikit-learn's ``recall_score``."""

    name = "recall"
    __doc__ = __doc__ + "\n\n    " + _Confusion.__doc__

    def result(self) -> float:
        return self._scores()[1]


class F1(_Confusion):
    """2 tp / (2 tp + fp + fn), the harmonic mean of precision and recall: scikit-learn's
    ``f1_score``."""

    name = "f1"
    __doc__ = __doc__ + "\n\n    " + _Confusion.__doc__

    def result(self) -> float:
        return self._scores()[2]


class AUC(Metric):
    """Area under the ROC curve, exact: scikit-learn's ``roc_auc_score`` (average='macro' over
    the columns of a multi-label output).

    ``pred`` (n,) or (n, outputs) scores, logits or probabilities alike (the area depends only
    on their order), ``target`` of the same size, positive where > 0.5. Each batch's scores stay
    on the device until ``result()``, which computes the Mann–Whitney statistic with average
    ranks for ties on the device: (sum of the positives' ranks - P (P + 1) / 2) / (P N) for P
    positives and N negatives. Memory grows with the epoch: one score and one flag per output
    and sample. An output whose targets hold one class only has no ROC curve: its area is nan
    (scikit-learn raises instead).
    """

    name = "auc"
    compares = "binary"

    def reset(self) -> None:
        super().reset()
        self._scores, self._positives = [], []

    def update(self, pred, target) -> None:
        xp = namespace_of(pred=pred, target=target)
        target = _matching_target(xp, pred, target)
        if pred.ndim == 1:
            pred, target = pred[:, None], target[:, None]
        self._scores.append(pred)
        self._positives.append(target > 0.5)
        self._count += pred.shape[0]

    def result(self) -> float:
        if not self._scores:
            raise ValueError(f"{self.name}: no batch was seen")
        xp = namespace_of(pred=self._scores[0])
        scores, positives = xp.concat(self._scores, axis=0), xp.concat(self._positives, axis=0)
        n = self._count
        areas = []
        for column in range(scores.shape[1]):
            score = scores[:, column]
            ordered = xp.sort(score)
            # 1-based average rank of each score among all: ties share the mean of their ranks
            below = xp.searchsorted(ordered, score, side="left")
            up_to = xp.searchsorted(ordered, score, side="right")
            ranks = xp.astype(below + up_to + 1, xp.float64) * 0.5
            positive = xp.astype(positives[:, column], xp.float64)
            p = xp.sum(positive)
            pairs = p * (n - p)
            u = xp.sum(ranks * positive) - p * (p + 1) * 0.5
            areas.append(xp.where(pairs == 0, xp.nan, u / xp.where(pairs == 0, 1.0, pairs)))
        return float(xp.mean(xp.stack(areas)))


class TopKAccuracy(Metric):
    """Share of rows whose label is among the ``k`` highest outputs: scikit-learn's
    ``top_k_accuracy_score``. ``pred`` (n, classes), ``target`` (n,) labels or one-hot rows.

    Ties are broken as scikit-learn breaks them (a stable sort, reversed): among equal scores
    the higher class index ranks first, so the label is a hit when fewer than k outputs score
    above it or tie with it at a higher index. With k >= classes every row is a hit."""

    name = "top_k_accuracy"
    compares = "classes"

    def __init__(self, k: int = 5):
        self.k = check_int(k, "k", "TopKAccuracy", minimum=1)
        super().__init__()

    def get_config(self) -> dict:
        return {"k": self.k}

    def problem(self, loss, outputs: int) -> str | None:
        reason = super().problem(loss, outputs)
        if reason is None and self.k >= outputs:
            return (f"{self.name} with k={self.k} on a model with {outputs} outputs counts every sample "
                    f"as a hit; use a k below {outputs} (TopKAccuracy(k=...)), or 'accuracy'")
        return reason

    def update(self, pred, target) -> None:
        xp = namespace_of(pred=pred, target=target)
        labels = _labels(xp, target)
        at_label = _one_hot(xp, labels, pred.shape[1])
        label_score = xp.max(xp.where(at_label, pred, -xp.inf), axis=1)[:, None]
        after_label = xp.arange(pred.shape[1], dtype=labels.dtype) > labels[:, None]
        ahead = xp.count_nonzero((pred > label_score) | ((pred == label_score) & after_label), axis=1)
        self._add(xp, pred.shape[0], xp.count_nonzero(ahead < self.k))


METRICS = Registry("metric", Metric)
METRICS.add(Accuracy, "accuracy", "acc", "categorical_accuracy", "sparse_categorical_accuracy")
METRICS.add(BinaryAccuracy, "binary_accuracy")
METRICS.add(MeanAbsoluteError, "mae", "mean_absolute_error")
METRICS.add(MeanSquaredError, "mse", "mean_squared_error")
METRICS.add(R2, "r2", "r2_score")
METRICS.add(Precision, "precision")
METRICS.add(Recall, "recall")
METRICS.add(F1, "f1", "f1_score")
METRICS.add(AUC, "auc", "roc_auc")
METRICS.add(TopKAccuracy, "top_k_accuracy", "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy")
for _cls in (Accuracy, BinaryAccuracy, MeanAbsoluteError, MeanSquaredError, R2, Precision, Recall, F1, AUC,
             TopKAccuracy):
    METRICS.add_class(_cls)  # what a saved model may name among the metrics it was trained with
del _cls


def get(spec, **arguments) -> Metric:
    """A fresh metric from a name ('accuracy', 'mae', ...) or a Metric class, or a Metric
    instance (returned as is). ValueError for an unknown name, listing the valid ones."""
    return METRICS.get(spec, **arguments)


def for_loss(spec, loss, where: str) -> list[Metric]:
    """The metrics ``fit``/``evaluate`` compute for ``spec`` with ``loss``, each bound to the
    loss (``Metric.bind``: thresholds at 0 for logits, 0.5 for probabilities). "auto" is
    accuracy for classification losses and none otherwise; "accuracy" with a binary loss is
    binary accuracy (Keras' rule). Raises ValueError naming ``where`` for an unknown or
    repeated metric."""
    if spec == "auto":
        spec = ("accuracy",) if loss.target_kind in ("class_labels", "binary") else ()
    if spec is None:
        spec = ()
    if isinstance(spec, (str, Metric)) or (isinstance(spec, type) and issubclass(spec, Metric)):
        spec = (spec,)
    if not isinstance(spec, (list, tuple)):
        raise TypeError(f"{where}: metrics must be a name, a Metric, or a list of them, got {spec!r:.60}")
    found = []
    for item in spec:
        if isinstance(item, str) and normalize(item) in ("accuracy", "acc") and loss.target_kind == "binary":
            item = BinaryAccuracy
        try:
            metric = get(item)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{where}: metrics: {error}") from None
        metric.bind(loss)
        found.append(metric)
    names = [metric.name for metric in found]
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: metrics lists {names}; each metric may appear once")
    return found


def check_compatible(metric_list, loss, probe, where: str) -> None:
    """Refuse, before any training step, a metric that cannot be computed for ``loss`` on a
    model whose output for one sample is ``probe`` (or whose output width is the int
    ``probe``): a ValueError naming ``where``, the metric and the loss, and what to use
    instead. The rules are each metric's ``compares`` (module docstring) and ``problem``."""
    outputs = probe if isinstance(probe, int) else (probe.shape[-1] if probe.ndim > 1 else 1)
    for metric in metric_list:
        reason = metric.problem(loss, outputs)
        if reason is not None:
            raise ValueError(f"{where}: metric {metric.name!r} does not fit {_loss_name(loss)}: {reason}")
