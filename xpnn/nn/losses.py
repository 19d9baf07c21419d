"""Losses: the MEAN over the batch, and the gradient of that mean with respect to the prediction.

``value, backward = loss.forward(pred, target)``; ``backward()`` returns d value / d pred, the
array to feed to the model's backward. ``loss(pred, target)`` gives the value alone. Values are
0-d arrays on the prediction's backend: reading one (``float(value)``) is left to the caller,
because on a GPU it waits for the device.

``validate=False`` skips the checks that read target VALUES (labels in range, probabilities in
[0, 1]); those reads synchronise a GPU, so a training loop that checked its data once may turn
them off (``loss.unchecked()`` is a copy that does). Shape and dtype checks always run: they
cost nothing.

Each loss also declares what it compares, for the training floor to read instead of asking
for its class: ``target_kind`` ("class_labels": integer labels or probability rows over the
last axis; "binary": 0/1 labels or probabilities per output; "values": real numbers of the
prediction's shape) and ``prediction_kind`` ("logits", "probabilities" or "values").
"""

from __future__ import annotations

import copy
import math

from ..backend import dtype_is, dtype_name, namespace_of, ops_for
from ..utils.registry import Registry
from ..utils.validation import check_float_array, check_number
from . import special

class Loss:
    """Base class: subclasses implement ``_forward(xp, pred, target)``."""

    name = "loss"
    target_kind = "values"
    prediction_kind = "values"

    def __init__(self, *, validate: bool = True):
        self.validate = bool(validate)

    def unchecked(self) -> "Loss":
        """A copy of this loss with ``validate=False``, for a loop that checked its targets
        once; this loss is left as it is."""
        twin = copy.copy(self)
        twin.validate = False
        return twin

    def forward(self, pred, target):
        xp = namespace_of(pred=pred, target=target)
        check_float_array(xp, pred, "pred", type(self).__name__)
        return self._forward(xp, pred, target)

    def __call__(self, pred, target):
        return self.forward(pred, target)[0]

    def _forward(self, xp, pred, target):
        raise NotImplementedError

    def _same_shape_target(self, xp, pred, target):
        """``target`` checked to match ``pred``'s shape and cast to its dtype."""
        where = type(self).__name__
        if tuple(target.shape) != tuple(pred.shape):
            raise ValueError(
                f"{where}: pred has shape {tuple(pred.shape)} but target has shape "
                f"{tuple(target.shape)}; they must match (reshape target, e.g. to "
                f"{tuple(pred.shape)})"
            )
        if not dtype_is(xp, target.dtype, ("real floating", "integral", "bool")):
            raise TypeError(f"{where}: target must be numeric, got dtype {dtype_name(target.dtype)}")
        return target if target.dtype == pred.dtype else xp.astype(target, pred.dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _count(array) -> int:
    return math.prod(array.shape)


class MSE(Loss):
    """mean((pred - target)^2); gradient 2 (pred - target) / n over all n elements."""

    name = "mse"

    def _forward(self, xp, pred, target):
        diff = pred - self._same_shape_target(xp, pred, target)
        value = xp.mean(diff * diff)
        return value, lambda: diff * (2.0 / _count(diff))


class MAE(Loss):
    """mean(|pred - target|); gradient sign(pred - target) / n (0 where they are equal)."""

    name = "mae"

    def _forward(self, xp, pred, target):
        diff = pred - self._same_shape_target(xp, pred, target)
        value = xp.mean(xp.abs(diff))
        return value, lambda: ops_for(xp).sign(diff) * (1.0 / _count(diff))


class Huber(Loss):
    """Quadratic within ``delta`` of the target, linear beyond: 0.5 d^2 for |d| <= delta,
    delta (|d| - 0.5 delta) otherwise (PyTorch's HuberLoss); gradient clip(d, -delta, delta)/n."""

    name = "huber"

    def __init__(self, delta: float = 1.0, *, validate: bool = True):
        super().__init__(validate=validate)
        self.delta = check_number(delta, "delta", "Huber", low=0, low_open=True)

    def _forward(self, xp, pred, target):
        delta = self.delta
        diff = pred - self._same_shape_target(xp, pred, target)
        abs_diff = xp.abs(diff)
        quadratic = xp.minimum(abs_diff, delta)
        value = xp.mean(0.5 * quadratic * quadratic + delta * (abs_diff - quadratic))
        size = _count(diff)
        return value, lambda: ops_for(xp).clip(diff, -delta, delta) * (1.0 / size)

    def __repr__(self) -> str:
        return f"Huber(delta={self.delta})"


class BinaryCrossEntropy(Loss):
    """-mean(y log p + (1 - y) log(1 - p)) over all elements, targets y in [0, 1].

    From logits (the default) it is max(z, 0) - z y + log1p(exp(-|z|)), finite for any z, with
    gradient (sigmoid(z) - y) / n. With ``from_logits=False`` the probabilities are clipped to
    [eps, 1 - eps] (eps = 1e-7, as Keras does) and the gradient is zero where clipping acted.
    """

    name = "binary_cross_entropy"
    target_kind = "binary"
    eps = 1e-7

    def __init__(self, from_logits: bool = True, *, validate: bool = True):
        super().__init__(validate=validate)
        self.from_logits = bool(from_logits)

    @property
    def prediction_kind(self) -> str:
        return "logits" if self.from_logits else "probabilities"

    def _forward(self, xp, pred, target):
        y = self._same_shape_target(xp, pred, target)
        if self.validate and bool(xp.any((y < 0) | (y > 1))):
            raise ValueError("BinaryCrossEntropy: target values must lie in [0, 1]")
        size = _count(pred)
        if self.from_logits:
            z = pred
            value = xp.mean(xp.maximum(z, 0.0) - z * y + xp.log1p(xp.exp(-xp.abs(z))))
            return value, lambda: (special.sigmoid(xp, z) - y) * (1.0 / size)
        if self.validate and bool(xp.any((pred < 0) | (pred > 1))):
            raise ValueError(
                "BinaryCrossEntropy(from_logits=False): pred must hold probabilities in [0, 1]; "
                "pass logits with from_logits=True instead"
            )
        p = ops_for(xp).clip(pred, self.eps, 1.0 - self.eps)
        value = -xp.mean(y * xp.log(p) + (1.0 - y) * xp.log1p(-p))

        def backward():
            inside = xp.astype((pred > self.eps) & (pred < 1.0 - self.eps), pred.dtype)
            return inside * (p - y) / (p * (1.0 - p)) * (1.0 / size)

        return value, backward

    def __repr__(self) -> str:
        return f"BinaryCrossEntropy(from_logits={self.from_logits})"


class CrossEntropy(Loss):
    """Softmax cross-entropy from logits of shape (batch, classes), mean over the batch.

    ``target`` is either integer class labels of shape (batch,) or probabilities / one-hot rows
    of shape (batch, classes). The log-softmax is fused (row maximum subtracted), so logits of
    +-1e4 in float32 are fine; the gradient is (softmax(z) - q) / batch for target rows q that
    sum to 1. ``label_smoothing`` = s replaces q by (1 - s) q + s / classes.
    """

    name = "cross_entropy"
    target_kind = "class_labels"
    prediction_kind = "logits"

    def __init__(self, label_smoothing: float = 0.0, *, validate: bool = True):
        super().__init__(validate=validate)
        self.label_smoothing = check_number(label_smoothing, "label_smoothing", "CrossEntropy",
                                            low=0, high=1, high_open=True)

    def _forward(self, xp, pred, target):
        if pred.ndim != 2:
            raise ValueError(
                f"CrossEntropy: pred must be logits of shape (batch, classes), got shape "
                f"{tuple(pred.shape)}"
            )
        batch, classes = pred.shape
        q = self._target_distribution(xp, pred, target, batch, classes)
        ops = ops_for(xp)
        log_p = ops.log_softmax(pred)
        value = -xp.sum(q * log_p) * (1.0 / batch)
        # one-hot rows sum to exactly 1; smoothed or given probabilities only nearly
        rows_sum_to_one = dtype_is(xp, target.dtype, "integral") and not self.label_smoothing

        def backward():
            return ops.softmax_cross_entropy_grad(log_p, q, scale=1.0 / batch, rows_sum_to_one=rows_sum_to_one)

        return value, backward

    def _target_distribution(self, xp, pred, target, batch, classes):
        if dtype_is(xp, target.dtype, "integral"):
            if tuple(target.shape) != (batch,):
                raise ValueError(
                    f"CrossEntropy: integer labels must have shape ({batch},) for pred of shape "
                    f"{tuple(pred.shape)}, got {tuple(target.shape)}"
                )
            if self.validate and bool(xp.any((target < 0) | (target >= classes))):
                low, high = int(xp.min(target)), int(xp.max(target))
                raise ValueError(
                    f"CrossEntropy: labels must lie in [0, {classes - 1}] for {classes} classes, "
                    f"got values from {low} to {high}"
                )
            classes_row = xp.arange(classes, dtype=target.dtype)
            q = xp.astype(target[:, None] == classes_row, pred.dtype)
        elif dtype_is(xp, target.dtype, "real floating"):
            if tuple(target.shape) != (batch, classes):
                hint = " (labels must be integers)" if target.ndim == 1 else ""
                raise ValueError(
                    f"CrossEntropy: probability targets must have shape ({batch}, {classes}) like "
                    f"pred, got {tuple(target.shape)}{hint}"
                )
            q = target if target.dtype == pred.dtype else xp.astype(target, pred.dtype)
        else:
            raise TypeError(
                f"CrossEntropy: target must be integer labels or float probabilities, got dtype "
                f"{dtype_name(target.dtype)}"
            )
        if self.label_smoothing:
            q = q * (1.0 - self.label_smoothing) + self.label_smoothing / classes
        return q

    def __repr__(self) -> str:
        return f"CrossEntropy(label_smoothing={self.label_smoothing})"


LOSSES = Registry("loss", Loss)
LOSSES.add(MSE, "mse", "mean_squared_error")
LOSSES.add(MAE, "mae", "mean_absolute_error")
LOSSES.add(Huber, "huber")
LOSSES.add(BinaryCrossEntropy, "binary_cross_entropy", "bce", "binary_crossentropy")
LOSSES.add(CrossEntropy, "cross_entropy", "categorical_cross_entropy", "categorical_crossentropy",
           "sparse_categorical_crossentropy")


def get(spec, **arguments) -> Loss:
    """A loss from a name ('cross_entropy', 'mse', ...) or a Loss class, built with
    ``arguments``, or a Loss instance (returned as is). ValueError for an unknown name,
    listing the valid ones; TypeError for anything else."""
    return LOSSES.get(spec, **arguments)
