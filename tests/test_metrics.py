"""Metrics summed over batches on the device equal the formula over the whole set."""

import numpy as np
import pytest

import xpnn
from xpnn import metrics

from .helpers import on_backend


def batches(metric, pred, target, size=7):
    metric.reset()
    for start in range(0, len(pred), size):
        stop = min(start + size, len(pred))
        metric.update(on_backend(pred[start:stop]), xpnn.asarray(target[start:stop]))
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


def test_errors(xp):
    with pytest.raises(ValueError, match=r"unknown metric 'f1'; valid names: acc, accuracy"):
        metrics.get("f1")
    with pytest.raises(ValueError, match=r"accuracy: no batch was seen"):
        metrics.Accuracy().result()
