import math

import numpy as np
import pytest

import xpnn
from xpnn.testing import assert_close, gradcheck

from .helpers import host_normal, on_backend

LABELS = np.array([0, 2, 1, 2])


def _probabilities(seed=3):
    raw = np.random.default_rng(seed).uniform(0.05, 1.0, size=(4, 3))
    return raw / raw.sum(axis=1, keepdims=True)


GRADCHECK_CASES = {
    "mse": (xpnn.MSE, lambda: (host_normal(4, 3), host_normal(4, 3, seed=1))),
    "mae": (xpnn.MAE, lambda: (host_normal(4, 3), host_normal(4, 3, seed=1))),
    "huber": (lambda: xpnn.Huber(delta=0.7), lambda: (host_normal(4, 3), host_normal(4, 3, seed=1))),
    "bce_logits": (xpnn.BinaryCrossEntropy,
                   lambda: (host_normal(4, 2, scale=3), np.random.default_rng(2).uniform(size=(4, 2)))),
    "bce_probabilities": (lambda: xpnn.BinaryCrossEntropy(from_logits=False),
                          lambda: (np.random.default_rng(4).uniform(0.05, 0.95, size=(4, 2)),
                                   (host_normal(4, 2) > 0).astype(float))),
    "cross_entropy_labels": (xpnn.CrossEntropy, lambda: (host_normal(4, 3), LABELS)),
    "cross_entropy_probabilities": (xpnn.CrossEntropy, lambda: (host_normal(4, 3), _probabilities())),
    "cross_entropy_smoothed": (lambda: xpnn.CrossEntropy(label_smoothing=0.1),
                               lambda: (host_normal(4, 3), LABELS)),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK_CASES))
def test_gradcheck(xp, name):
    make, data = GRADCHECK_CASES[name]
    pred, target = data()
    assert gradcheck(make(), on_backend(pred), xpnn.asarray(target))


def test_values_match_the_textbook_formulas(xp):
    pred, target = host_normal(4, 3), host_normal(4, 3, seed=1)
    d = pred - target
    assert float(xpnn.MSE()(on_backend(pred), on_backend(target))) == pytest.approx((d ** 2).mean())
    assert float(xpnn.MAE()(on_backend(pred), on_backend(target))) == pytest.approx(np.abs(d).mean())
    huber = np.where(np.abs(d) <= 0.5, 0.5 * d ** 2, 0.5 * (np.abs(d) - 0.25)).mean()
    assert float(xpnn.Huber(0.5)(on_backend(pred), on_backend(target))) == pytest.approx(huber)

    logits = host_normal(4, 3, seed=5)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = -log_p[np.arange(4), LABELS].mean()
    assert float(xpnn.CrossEntropy()(on_backend(logits), xp.asarray(LABELS))) == pytest.approx(expected)
    onehot = np.eye(3)[LABELS]
    assert float(xpnn.CrossEntropy()(on_backend(logits), on_backend(onehot))) == pytest.approx(expected)

    y = (host_normal(4, 3, seed=6) > 0).astype(float)
    p = 1 / (1 + np.exp(-logits))
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()
    assert float(xpnn.BinaryCrossEntropy()(on_backend(logits), on_backend(y))) == pytest.approx(bce)
    assert float(xpnn.BinaryCrossEntropy(from_logits=False)(on_backend(p), on_backend(y))) == pytest.approx(bce)


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_batch(xp):
    logits = host_normal(4, 3)
    _, backward = xpnn.CrossEntropy().forward(on_backend(logits), xp.asarray(LABELS))
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert_close(backward(), (softmax - np.eye(3)[LABELS]) / 4)


def test_label_smoothing_spreads_the_target(xp):
    logits = host_normal(4, 3)
    smoothed = np.eye(3)[LABELS] * 0.8 + 0.2 / 3
    got = xpnn.CrossEntropy(label_smoothing=0.2)(on_backend(logits), xp.asarray(LABELS))
    reference = xpnn.CrossEntropy()(on_backend(logits), on_backend(smoothed))
    assert_close(got, reference)


def test_stable_for_huge_logits_in_float32(xp):
    logits = on_backend(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]]), dtype="float32")
    value, backward = xpnn.CrossEntropy().forward(logits, xp.asarray(np.array([0, 0])))
    assert float(value) == pytest.approx(1e4, rel=1e-6)  # (0 + 2e4) / 2
    assert np.all(np.isfinite(xpnn.to_numpy(backward())))
    z = on_backend(np.array([[1e4], [-1e4], [1e4]]), dtype="float32")
    y = on_backend(np.array([[1.0], [0.0], [0.0]]), dtype="float32")
    value, backward = xpnn.BinaryCrossEntropy().forward(z, y)
    assert float(value) == pytest.approx(1e4 / 3, rel=1e-6)
    assert_close(backward(), np.array([[0.0], [0.0], [1 / 3]], dtype=np.float32))


def test_integer_regression_targets_are_cast(xp):
    pred = on_backend(np.array([[1.5], [2.5]]))
    assert float(xpnn.MSE()(pred, xp.asarray([[1], [2]]))) == pytest.approx(0.25)


def test_losses_by_name():
    assert isinstance(xpnn.losses.get("cross_entropy"), xpnn.CrossEntropy)
    assert isinstance(xpnn.losses.get("MSE"), xpnn.MSE)
    huber = xpnn.Huber(2.0)
    assert xpnn.losses.get(huber) is huber
    with pytest.raises(ValueError, match=r"unknown loss 'hinge'; valid names: .*cross_entropy"):
        xpnn.losses.get("hinge")


# ----------------------------------------------------------- bad input

def test_prediction_target_shape_mismatch(xp):
    with pytest.raises(ValueError, match=r"MSE: pred has shape \(4, 1\) but target has shape \(4,\)"):
        xpnn.MSE()(on_backend(np.ones((4, 1))), on_backend(np.ones(4)))


def test_labels_out_of_range(xp):
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\] for 3 classes, got values from 0 to 3"):
        xpnn.CrossEntropy()(on_backend(np.zeros((2, 3))), xp.asarray([0, 3]))
    with pytest.raises(ValueError, match="got values from -1 to 1"):
        xpnn.CrossEntropy()(on_backend(np.zeros((2, 3))), xp.asarray([-1, 1]))


def test_non_integer_labels(xp):
    with pytest.raises(ValueError, match=r"probability targets must have shape \(2, 3\).*labels must be integers"):
        xpnn.CrossEntropy()(on_backend(np.zeros((2, 3))), on_backend(np.array([0.0, 1.0])))
    with pytest.raises(TypeError, match="target must be integer labels or float probabilities, got dtype bool"):
        xpnn.CrossEntropy()(on_backend(np.zeros((2, 3))), xp.asarray([True, False]))


def test_label_count_mismatch(xp):
    with pytest.raises(ValueError, match=r"integer labels must have shape \(2,\)"):
        xpnn.CrossEntropy()(on_backend(np.zeros((2, 3))), xp.asarray([0, 1, 2]))


def test_cross_entropy_needs_two_dimensional_logits(xp):
    with pytest.raises(ValueError, match=r"pred must be logits of shape \(batch, classes\), got shape \(3,\)"):
        xpnn.CrossEntropy()(on_backend(np.zeros(3)), xp.asarray([0, 1, 2]))


def test_binary_targets_outside_zero_one(xp):
    with pytest.raises(ValueError, match=r"target values must lie in \[0, 1\]"):
        xpnn.BinaryCrossEntropy()(on_backend(np.zeros((2, 1))), on_backend(np.array([[0.0], [2.0]])))
    with pytest.raises(ValueError, match="pred must hold probabilities"):
        xpnn.BinaryCrossEntropy(from_logits=False)(on_backend(np.array([[1.5]])), on_backend(np.array([[1.0]])))


def test_validate_false_skips_value_checks_but_not_shape_checks(xp):
    loss = xpnn.CrossEntropy(validate=False)
    out_of_range = xp.asarray([0, 5])  # refused when validating: the test fails if validate is ignored
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]"):
        xpnn.CrossEntropy()(on_backend(np.zeros((2, 3))), out_of_range)
    loss(on_backend(np.zeros((2, 3))), out_of_range)
    xpnn.BinaryCrossEntropy(validate=False)(on_backend(np.zeros((2, 1))), on_backend(np.array([[0.0], [2.0]])))
    with pytest.raises(ValueError, match="integer labels must have shape"):
        loss(on_backend(np.zeros((2, 3))), xp.asarray([0]))


def test_integer_prediction(xp):
    with pytest.raises(TypeError, match="MSE: pred must be a floating-point array, got dtype int64"):
        xpnn.MSE()(xp.asarray([1, 2]), xp.asarray([1, 2]))


def test_prediction_and_target_on_two_backends(other_backend):
    with xpnn.use_backend("numpy"):
        pred = xpnn.asarray(np.zeros((2, 3)))
    with xpnn.use_backend(other_backend):
        target = xpnn.asarray(np.array([0, 1]))
    with pytest.raises(TypeError, match=rf"pred is numpy, target is {other_backend}"):
        xpnn.CrossEntropy()(pred, target)


@pytest.mark.parametrize("make, message", [
    (lambda: xpnn.Huber(delta=0.0), "delta must be > 0"),
    (lambda: xpnn.CrossEntropy(label_smoothing=1.0), r"label_smoothing must be in \[0, 1\)"),
    (lambda: xpnn.CrossEntropy(label_smoothing=math.nan), "label_smoothing must be finite"),
])
def test_bad_loss_settings(make, message):
    with pytest.raises(ValueError, match=message):
        make()
