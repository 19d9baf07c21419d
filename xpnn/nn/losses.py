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
from ..utils.validation import check_bool, check_float_array, check_number
from . import special

class Loss:
    """Base class. A loss that is the mean of an elementwise term implements
    ``_elementwise(xp, pred, target) -> (elements, grad)`` with ``grad(scale)`` the term's
    derivative times ``scale`` (a number, or an array broadcasting over the sample axis);
    others implement ``_forward`` and, for ``sample_weight``, ``_per_sample``.

    ``forward(pred, target, sample_weight=w)`` with ``w`` of shape (batch,) is the weighted
    mean sum_i w_i l_i / sum_i w_i of the per-sample losses l_i (each the mean over the
    sample's elements; for cross-entropy, the sample's cross-entropy), as PyTorch's
    ``reduction="none"`` followed by a weighted mean; a batch whose weights are all 0 has loss
    0 and no gradient. Weights are not checked here (a loop checks them once): they must be
    finite and non-negative.
    """

    name = "loss"
    target_kind = "values"
    prediction_kind = "values"

    def __init__(self, *, validate: bool = True):
        self.validate = check_bool(validate, "validate", type(self).__name__)

    def unchecked(self) -> "Loss":
        """A copy of this loss with ``validate=False``, for a loop that checked its targets
        once; this loss is left as it is."""
        twin = copy.copy(self)
        twin.validate = False
        return twin

    def forward(self, pred, target, sample_weight=None):
        xp = namespace_of(pred=pred, target=target)
        check_float_array(xp, pred, "pred", type(self).__name__)
        if pred.ndim == 0 or _count(pred) == 0:
            raise ValueError(f"{type(self).__name__}: pred has shape {tuple(pred.shape)}; a loss needs a batch "
                             "of at least one sample with at least one value")
        if sample_weight is None:
            return self._forward(xp, pred, target)
        return self._weighted_forward(xp, pred, target, sample_weight)

    def __call__(self, pred, target, sample_weight=None):
        return self.forward(pred, target, sample_weight)[0]

    def _forward(self, xp, pred, target):
        elements, grad = self._elementwise(xp, pred, target)
        scale = 1.0 / _count(elements)
        return xp.mean(elements), lambda: grad(scale)

    def _elementwise(self, xp, pred, target):
        raise NotImplementedError(
            f"{type(self).__name__} must implement _elementwise(xp, pred, target), or _forward "
            "(and _per_sample for sample weights)"
        )

    def _per_sample(self, xp, pred, target):
        """``(losses, grad)``: the loss of each sample, shape (batch,), and ``grad(coef)``,
        the gradient of sum_i coef_i l_i with respect to pred."""
        try:
            elements, grad = self._elementwise(xp, pred, target)
        except NotImplementedError:
            raise TypeError(
                f"{type(self).__name__} does not support sample_weight: it implements neither "
                "_elementwise nor _per_sample"
            ) from None
        batch = elements.shape[0]
        per_element = 1.0 / (_count(elements) // batch) if batch else 1.0
        losses = xp.mean(xp.reshape(elements, (batch, -1)), axis=1)
        return losses, lambda coef: grad(_along_samples(xp, coef, elements.ndim) * per_element)

    def _weighted_forward(self, xp, pred, target, sample_weight):
        where = type(self).__name__
        check_float_array(xp, sample_weight, "sample_weight", where)
        if tuple(sample_weight.shape) != (pred.shape[0],):
            raise ValueError(f"{where}: sample_weight must have shape ({pred.shape[0]},), one weight per "
                             f"sample of pred {tuple(pred.shape)}, got {tuple(sample_weight.shape)}")
        weights = sample_weight if sample_weight.dtype == pred.dtype else xp.astype(sample_weight, pred.dtype)
        losses, grad = self._per_sample(xp, pred, target)
        total = xp.sum(weights)
        # an all-zero batch: 0 / 1 = 0 with a zero gradient, instead of 0 / 0
        coef = weights / xp.where(total > 0, total, xp.ones_like(total))
        return xp.sum(coef * losses), lambda: grad(coef)

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

    def get_config(self) -> dict:
        """Constructor arguments as JSON values (``validate`` is a run-time choice, not kept)."""
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Loss":
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _count(array) -> int:
    return math.prod(array.shape)


def _along_samples(xp, coef, ndim):
    """Per-sample coefficients of shape (batch,), shaped to broadcast over an ndim array."""
    return xp.reshape(coef, (coef.shape[0],) + (1,) * (ndim - 1))


class MSE(Loss):
    """mean((pred - target)^2); gradient 2 (pred - target) / n over all n elements."""

    name = "mse"

    def _elementwise(self, xp, pred, target):
        diff = pred - self._same_shape_target(xp, pred, target)
        return diff * diff, lambda scale: diff * (2.0 * scale)


class MAE(Loss):
    """mean(|pred - target|); gradient sign(pred - target) / n (0 where they are equal)."""

    name = "mae"

    def _elementwise(self, xp, pred, target):
        diff = pred - self._same_shape_target(xp, pred, target)
        return xp.abs(diff), lambda scale: ops_for(xp).sign(diff) * scale


class Huber(Loss):
    """Quadratic within ``delta`` of the target, linear beyond: 0.5 d^2 for |d| <= delta,
    delta (|d| - 0.5 delta) otherwise (PyTorch's HuberLoss); gradient clip(d, -delta, delta)/n."""

    name = "huber"

    def __init__(self, delta: float = 1.0, *, validate: bool = True):
        super().__init__(validate=validate)
        self.delta = check_number(delta, "delta", "Huber", low=0, low_open=True)

    def _elementwise(self, xp, pred, target):
        delta = self.delta
        diff = pred - self._same_shape_target(xp, pred, target)
        abs_diff = xp.abs(diff)
        quadratic = xp.minimum(abs_diff, delta)
        elements = 0.5 * quadratic * quadratic + delta * (abs_diff - quadratic)
        return elements, lambda scale: ops_for(xp).clip(diff, -delta, delta) * scale

    def get_config(self) -> dict:
        return {"delta": self.delta}

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
        self.from_logits = check_bool(from_logits, "from_logits", "BinaryCrossEntropy")

    @property
    def prediction_kind(self) -> str:
        return "logits" if self.from_logits else "probabilities"

    def _elementwise(self, xp, pred, target):
        y = self._same_shape_target(xp, pred, target)
        if self.validate and bool(xp.any((y < 0) | (y > 1))):
            raise ValueError("BinaryCrossEntropy: target values must lie in [0, 1]")
        if self.from_logits:
            z = pred
            elements = xp.maximum(z, 0.0) - z * y + xp.log1p(xp.exp(-xp.abs(z)))
            return elements, lambda scale: (special.sigmoid(xp, z) - y) * scale
        if self.validate and bool(xp.any((pred < 0) | (pred > 1))):
            raise ValueError(
                "BinaryCrossEntropy(from_logits=False): pred must hold probabilities in [0, 1]; "
                "pass logits with from_logits=True instead"
            )
        p = ops_for(xp).clip(pred, self.eps, 1.0 - self.eps)
        elements = -(y * xp.log(p) + (1.0 - y) * xp.log1p(-p))

        def grad(scale):
            inside = xp.astype((pred > self.eps) & (pred < 1.0 - self.eps), pred.dtype)
            return inside * (p - y) / (p * (1.0 - p)) * scale

        return elements, grad

    def get_config(self) -> dict:
        return {"from_logits": self.from_logits}

    def __repr__(self) -> str:
        return f"BinaryCrossEntropy(from_logits={self.from_logits})"


class CrossEntropy(Loss):
    """Softmax cross-entropy from logits of shape (batch, classes), mean over the batch.

    ``target`` is either integer class labels of shape (batch,) or probabilities / one-hot rows
    of shape (batch, classes). The log-softmax is fused (row maximum subtracted), so logits of
    +-1e4 in float32 are fine; the gradient is (softmax(z) - q) / batch for target rows q that
    sum to 1. ``label_smoothing`` = s replaces q by (1 - s) q + s / classes.

    With ``from_logits=False`` pred holds probability rows (a softmax output, Keras's default
    for ``categorical_crossentropy``): the value is -sum(q log p) / batch with p clipped to
    [eps, 1] (eps = 1e-7, as Keras), and the gradient -q / p / batch is zero where clipping
    acted. Training on logits is the stabler choice: a float32 softmax rounds small
    probabilities to 0.
    """

    name = "cross_entropy"
    target_kind = "class_labels"
    eps = 1e-7

    def __init__(self, label_smoothing: float = 0.0, *, from_logits: bool = True, validate: bool = True):
        super().__init__(validate=validate)
        self.label_smoothing = check_number(label_smoothing, "label_smoothing", "CrossEntropy",
                                            low=0, high=1, high_open=True)
        self.from_logits = check_bool(from_logits, "from_logits", "CrossEntropy")

    @property
    def prediction_kind(self) -> str:
        return "logits" if self.from_logits else "probabilities"

    def _forward(self, xp, pred, target):
        if pred.ndim != 2:
            raise ValueError(
                f"CrossEntropy: pred must be logits of shape (batch, classes), got shape "
                f"{tuple(pred.shape)}"
            )
        batch, classes = pred.shape
        q = self._target_distribution(xp, pred, target, batch, classes)
        if not self.from_logits:
            return self._from_probabilities(xp, pred, q, batch)
        ops = ops_for(xp)
        log_p = ops.log_softmax(pred)
        value = -xp.sum(q * log_p) * (1.0 / batch)
        # one-hot rows sum to exactly 1; smoothed or given probabilities only nearly
        rows_sum_to_one = dtype_is(xp, target.dtype, "integral") and not self.label_smoothing

        def backward():
            return ops.softmax_cross_entropy_grad(log_p, q, scale=1.0 / batch, rows_sum_to_one=rows_sum_to_one)

        return value, backward

    def _per_sample(self, xp, pred, target):
        if pred.ndim != 2:
            raise ValueError(
                f"CrossEntropy: pred must be logits of shape (batch, classes), got shape "
                f"{tuple(pred.shape)}"
            )
        q = self._target_distribution(xp, pred, target, *pred.shape)
        if not self.from_logits:
            self._check_probabilities(xp, pred)
            p = ops_for(xp).clip(pred, self.eps, 1.0)
            inside = xp.astype(pred > self.eps, pred.dtype)
            return -xp.sum(q * xp.log(p), axis=1), lambda coef: -inside * q / p * coef[:, None]
        log_p = ops_for(xp).log_softmax(pred)
        # d/dz of -sum(q log softmax(z)) is softmax(z) sum(q) - q, for any row sum of q
        return (-xp.sum(q * log_p, axis=1),
                lambda coef: (xp.exp(log_p) * xp.sum(q, axis=1, keepdims=True) - q) * coef[:, None])

    def _check_probabilities(self, xp, pred):
        if self.validate and bool(xp.any((pred < 0) | (pred > 1))):
            raise ValueError(
                "CrossEntropy(from_logits=False): pred must hold probabilities in [0, 1]; "
                "pass logits with from_logits=True instead"
            )

    def _from_probabilities(self, xp, pred, q, batch):
        self._check_probabilities(xp, pred)
        p = ops_for(xp).clip(pred, self.eps, 1.0)
        value = -xp.sum(q * xp.log(p)) * (1.0 / batch)

        def backward():
            inside = xp.astype(pred > self.eps, pred.dtype)
            return -inside * q / p * (1.0 / batch)

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

    def get_config(self) -> dict:
        return {"label_smoothing": self.label_smoothing, "from_logits": self.from_logits}

    def __repr__(self) -> str:
        extra = "" if self.from_logits else ", from_logits=False"
        return f"CrossEntropy(label_smoothing={self.label_smoothing}{extra})"


LOSSES = Registry("loss", Loss)
LOSSES.add(MSE, "mse", "mean_squared_error")
LOSSES.add(MAE, "mae", "mean_absolute_error")
LOSSES.add(Huber, "huber")
LOSSES.add(BinaryCrossEntropy, "binary_cross_entropy", "bce", "binary_crossentropy")
LOSSES.add(CrossEntropy, "cross_entropy", "categorical_cross_entropy", "categorical_crossentropy",
           "sparse_categorical_crossentropy")
for _cls in (MSE, MAE, Huber, BinaryCrossEntropy, CrossEntropy):
    LOSSES.add_class(_cls)  # what a model file may name as the loss it was trained with
del _cls


def get(spec, **arguments) -> Loss:
    """A loss from a name ('cross_entropy', 'mse', ...) or a Loss class, built with
    ``arguments``, or a Loss instance (returned as is). ValueError for an unknown name,
    listing the valid ones; TypeError for anything else."""
    return LOSSES.get(spec, **arguments)
