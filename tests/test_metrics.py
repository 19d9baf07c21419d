"""Metrics summed over batches on the device equal the formula over the whole set, and
scikit-learn's function, however the set is split into batches."""

import numpy as np
import pytest
from sklearn.metrics import mean_squared_error, r2_score

import xpnn
from xpnn import metrics

from .helpers import on_backend

SPLITS = (1, 7, 32, 1000)  # batch sizes: one sample, uneven, a power of two, everything at once


def batches(metric, pred, target, size=7, dtype="float64"):
    metric.reset()
    for start in range(0, len(pred), size):
        stop = min(start + size, len(pred))
        metric.update(on_backend(pred[start:stop], dtype), xpnn.asarray(target[start:stop]))
    return metric.result()


def test_accuracy_with_labels_and_one_hot(xp):
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(30, 4)), rng.integers(0, 4, size=30)
    expected = np.mean(logits.argmax(axis=1) == labels)
    assert batches(metrics.get("accuracy"), logits, labels) == pytest.approx(expected)
    assert batches(metrics.Accuracy(), logits, np.eye(4)[labels]) == pytest.approx(expected)


@pytest.mark.parametrize("threshold", [0.5, 0.0])
def test_binary_accuracy(xp, threshold):
    rng = np.random.default_rng(1)
    scores, labels = rng.normal(0.3, 1, size=(25, 1)), rng.integers(0, 2, size=25).astype(float)
    expected = np.mean((scores[:, 0] > threshold) == (labels > 0.5))
    assert batches(metrics.BinaryAccuracy(threshold), scores, labels) == pytest.approx(expected)


def test_regression_metrics_match_their_formulas(xp):
    rng = np.random.default_rng(2)
    y = rng.normal(size=(40, 2))
    pred = y + rng.normal(scale=0.3, size=y.shape)
    assert batches(metrics.get("mae"), pred, y) == pytest.approx(np.mean(np.abs(pred - y)))
    assert batches(metrics.get("mse"), pred, y) == pytest.approx(np.mean((pred - y) ** 2))
    # R^2 per output, then averaged (scikit-learn's r2_score, multioutput="uniform_average")
    r2 = 1 - ((pred - y) ** 2).sum(0) / ((y - y.mean(0)) ** 2).sum(0)
    assert batches(metrics.get("r2"), pred, y) == pytest.approx(r2.mean())


def test_one_dimensional_targets_meet_a_single_output(xp):
    y = np.array([1.0, 2.0, 3.0, 4.0])
    pred = (y + 0.5).reshape(-1, 1)
    assert batches(metrics.MeanAbsoluteError(), pred, y) == pytest.approx(0.5)


# ---------------------------------------------------------------- numerically stable R^2

@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_r2_of_float64_targets_near_1e8(xp, size):
    # sum(y^2) - sum(y)^2 / n cancelled every digit here: the old R2 returned 0.875
    y = 1e8 + np.arange(5.0)
    pred = y + np.array([1.0, -1.0, 0.0, 0.0, 0.0])
    assert r2_score(y, pred) == pytest.approx(0.8)
    assert batches(metrics.R2(), pred.reshape(-1, 1), y, size) == pytest.approx(0.8, rel=1e-12)


@pytest.mark.parametrize("size", SPLITS)
def test_r2_of_a_near_constant_float32_target(xp, size):
    # the old R2 returned 3.7e9 on one batch (R^2 never exceeds 1) and -inf in batches of 32
    rng = np.random.default_rng(5)
    y = np.full(100, 0.1, dtype=np.float32)
    y[0] = np.nextafter(y[0], np.float32(1))
    pred = (y + rng.normal(scale=1e-4, size=100)).astype(np.float32).reshape(-1, 1)
    expected = r2_score(y.astype(np.float64), pred.astype(np.float64))
    assert batches(metrics.R2(), pred, y, size, dtype="float32") == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("size", SPLITS)
def test_r2_far_from_zero_matches_scikit_learn(xp, size):
    rng = np.random.default_rng(6)
    y = rng.normal(size=(300, 3)) * [1.0, 1e-3, 50.0] + [1e9, -3e7, 0.0]
    pred = y + rng.normal(scale=0.5, size=y.shape) * [1.0, 1e-3, 50.0]
    expected = r2_score(y, pred, multioutput="uniform_average")
    assert batches(metrics.R2(), pred, y, size) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("size", [1, 3, 1000])
def test_r2_of_constant_targets_follows_scikit_learn(xp, size):
    y = np.full((10, 1), 2.0)
    assert batches(metrics.R2(), y, y, size) == 1.0  # predicted exactly
    assert batches(metrics.R2(), y + 0.5, y, size) == 0.0  # anything else, never inf or nan
    # 0.1 is not a binary fraction: its mean rounds, yet the target is still constant
    tenth = np.full((10, 1), 0.1)
    assert batches(metrics.R2(), tenth + 1e-3, tenth, size) == 0.0
    mixed = np.column_stack([np.full(10, 2.0), np.arange(10.0)])
    pred = mixed + np.column_stack([np.full(10, 0.5), np.linspace(-1, 1, 10)])
    expected = r2_score(mixed, pred)
    assert batches(metrics.R2(), pred, mixed, size) == pytest.approx(expected)


def test_mse_of_float32_outputs_does_not_overflow(xp):
    # squares of float32 differences above 1.8e19 are inf in float32; the sum is kept in float64
    pred = np.array([[3e19], [-3e19], [1.0]], dtype=np.float32)
    target = np.zeros(3)
    expected = mean_squared_error(target, pred[:, 0].astype(np.float64))
    assert batches(metrics.MeanSquaredError(), pred, target, 2, dtype="float32") == pytest.approx(expected)


# ---------------------------------------------------------------- errors

def test_errors(xp):
    with pytest.raises(ValueError, match=r"unknown metric 'f1'; valid names: acc, accuracy"):
        metrics.get("f1")
    with pytest.raises(ValueError, match=r"accuracy: no batch was seen"):
        metrics.Accuracy().result()
    with pytest.raises(ValueError, match=r"r2: no batch was seen"):
        metrics.R2().result()
