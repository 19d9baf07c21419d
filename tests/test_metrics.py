"""Metrics summed over batches on the device equal the formula over the whole set, and
scikit-learn's function, however the set is split into batches."""

import numpy as np
import pytest
from sklearn.metrics import (
    f1_score, mean_squared_error, precision_score, r2_score, recall_score, roc_auc_score,
    top_k_accuracy_score,
)

import xpnn
from xpnn import metrics
from xpnn.nn import losses

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


# ---------------------------------------------------------------- precision, recall, f1

SCORERS = {"precision": precision_score, "recall": recall_score, "f1": f1_score}


def bound(name, loss, **arguments):
    metric = metrics.get(name, **arguments)
    metric.bind(losses.get(loss))
    return metric


@pytest.mark.parametrize("name", sorted(SCORERS))
@pytest.mark.parametrize("average", ["binary", "macro", "micro", "weighted"])
def test_binary_precision_recall_f1_match_scikit_learn(xp, name, average):
    rng = np.random.default_rng(7)
    logits, labels = rng.normal(size=(90, 1)), rng.integers(0, 2, size=90)
    expected = SCORERS[name](labels, (logits[:, 0] > 0).astype(int), average=average)
    for size in SPLITS:  # logits: bound to the default binary cross-entropy, split at 0
        assert batches(bound(name, "bce", average=average), logits, labels.astype(float), size) == pytest.approx(expected)


@pytest.mark.parametrize("name", sorted(SCORERS))
@pytest.mark.parametrize("average", ["macro", "micro", "weighted"])
def test_multi_class_precision_recall_f1_match_scikit_learn(xp, name, average):
    rng = np.random.default_rng(8)
    # class 4 is never a label and never predicted: scikit-learn leaves it out of the average
    logits, labels = rng.normal(size=(80, 5)), rng.integers(0, 4, size=80)
    logits[:, 4] -= 10
    expected = SCORERS[name](labels, logits.argmax(axis=1), average=average)
    for size in SPLITS:
        assert batches(bound(name, "cross_entropy", average=average), logits, labels, size) == pytest.approx(expected)
    one_hot = np.eye(5)[labels]
    assert batches(bound(name, "cross_entropy", average=average), logits, one_hot) == pytest.approx(expected)


@pytest.mark.parametrize("name", sorted(SCORERS))
def test_two_class_outputs_with_average_binary_score_class_1(xp, name):
    rng = np.random.default_rng(9)
    logits, labels = rng.normal(size=(40, 2)), rng.integers(0, 2, size=40)
    expected = SCORERS[name](labels, logits.argmax(axis=1))
    assert batches(bound(name, "cross_entropy"), logits, labels) == pytest.approx(expected)


@pytest.mark.parametrize("name", sorted(SCORERS))
@pytest.mark.parametrize("average", ["macro", "micro", "weighted"])
def test_multi_label_precision_recall_f1_match_scikit_learn(xp, name, average):
    rng = np.random.default_rng(10)
    probabilities, labels = rng.uniform(size=(60, 3)), rng.integers(0, 2, size=(60, 3))
    labels[:, 2] = 0  # a column with no positives: zero_division decides its recall
    expected = SCORERS[name](labels, (probabilities > 0.5).astype(int), average=average, zero_division=0)
    for size in SPLITS:
        metric = bound(name, losses.BinaryCrossEntropy(from_logits=False), average=average)
        assert batches(metric, probabilities, labels.astype(float), size) == pytest.approx(expected)


@pytest.mark.parametrize("name", sorted(SCORERS))
@pytest.mark.parametrize("zero_division", [0, 1])
@pytest.mark.parametrize("average", ["binary", "macro", "weighted"])
def test_zero_division_matches_scikit_learn(xp, name, zero_division, average):
    # nothing predicted positive, and no positive label: every ratio of the positive class is 0/0
    logits, labels = -np.ones((6, 1)), np.zeros(6)
    expected = SCORERS[name](labels.astype(int), np.zeros(6, int), average=average, zero_division=zero_division)
    metric = bound(name, "bce", average=average, zero_division=zero_division)
    assert batches(metric, logits, labels, 4) == pytest.approx(expected)


# ---------------------------------------------------------------- auc, top-k accuracy

@pytest.mark.parametrize("size", SPLITS)
def test_auc_is_exact_with_ties(xp, size):
    rng = np.random.default_rng(11)
    scores = np.round(rng.normal(size=(200, 1)), 1)  # about 50 distinct values: many ties
    labels = (rng.uniform(size=200) < 1 / (1 + np.exp(-2 * scores[:, 0]))).astype(float)
    expected = roc_auc_score(labels, scores[:, 0])
    assert batches(metrics.AUC(), scores, labels, size) == pytest.approx(expected, rel=1e-12)
    # logits or probabilities: the same order, the same area
    assert batches(metrics.AUC(), 1 / (1 + np.exp(-scores)), labels, size) == pytest.approx(expected, rel=1e-12)


def test_auc_of_several_outputs_is_their_mean(xp):
    rng = np.random.default_rng(12)
    scores = np.round(rng.normal(size=(50, 3)), 1)
    labels = (scores + rng.normal(size=(50, 3)) > 0).astype(float)
    expected = roc_auc_score(labels, scores, average="macro")
    assert batches(metrics.AUC(), scores, labels) == pytest.approx(expected, rel=1e-12)


def test_auc_of_one_class_is_nan(xp):
    # scikit-learn raises "Only one class present in y_true"; an epoch must not die of it
    assert np.isnan(batches(metrics.AUC(), np.arange(4.0).reshape(-1, 1), np.ones(4)))


@pytest.mark.filterwarnings("ignore:'k' \\(5\\) greater than or equal to 'n_classes'")
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_top_k_accuracy_matches_scikit_learn_with_ties(xp, k):
    rng = np.random.default_rng(13)
    scores = np.round(rng.normal(size=(120, 5)), 0)  # integer scores: ties in most rows
    labels = rng.integers(0, 5, size=120)
    expected = top_k_accuracy_score(labels, scores, k=k, labels=np.arange(5))
    for size in SPLITS:
        assert batches(metrics.TopKAccuracy(k=k), scores, labels, size) == pytest.approx(expected)
    assert batches(metrics.get("top_k_categorical_accuracy", k=k), scores, np.eye(5)[labels]) == pytest.approx(expected)


# ---------------------------------------------------------------- thresholds from the loss

ISSUE_OUTPUTS = [0.2, 0.4, -0.3, 1.5, 0.1, -2.0, 0.45, 3.0]
ISSUE_LABELS = [1, 1, 0, 1, 0, 0, 1, 1]


def identity_model():
    """A model whose outputs are its inputs: Dense(1, 1) with weight 1 and bias 0."""
    return xpnn.Model(xpnn.Dense(1, 1, init="ones"))


@pytest.mark.parametrize("spec", ["binary_accuracy", "accuracy", metrics.BinaryAccuracy, "instance"])
def test_binary_accuracy_splits_logits_at_zero_by_every_route(xp, spec):
    spec = metrics.BinaryAccuracy() if spec == "instance" else spec
    X = np.array(ISSUE_OUTPUTS).reshape(-1, 1)
    result = identity_model().evaluate(X, ISSUE_LABELS, loss="binary_crossentropy", metrics=[spec])
    assert result["binary_accuracy"] == pytest.approx(0.875)  # 0.625 when split at 0.5


@pytest.mark.parametrize("name", ["precision", "recall", "f1", "auc"])
@pytest.mark.parametrize("route", ["name", "class", "instance"])
def test_thresholded_metrics_take_the_loss_threshold_by_every_route(xp, name, route):
    cls = type(metrics.get(name))
    spec = {"name": name, "class": cls, "instance": cls()}[route]
    X = np.array(ISSUE_OUTPUTS).reshape(-1, 1)
    result = identity_model().evaluate(X, ISSUE_LABELS, loss="binary_crossentropy", metrics=[spec])
    predicted = (np.array(ISSUE_OUTPUTS) > 0).astype(int)
    expected = {**{key: scorer(ISSUE_LABELS, predicted) for key, scorer in SCORERS.items()},
                "auc": roc_auc_score(ISSUE_LABELS, ISSUE_OUTPUTS)}[name]
    assert result[name] == pytest.approx(expected)


class PassThrough(xpnn.Layer):
    """The identity, as a layer xpnn does not judge: ``fit`` refuses a linear Dense output fed
    to a loss on probabilities, and here the inputs are the probabilities."""

    def forward(self, x, training=True):
        return x, lambda dout: dout


def test_probabilities_are_split_at_one_half_and_a_given_threshold_wins(xp):
    X = np.array([0.2, 0.4, 0.3, 0.9, 0.6, 0.1, 0.55, 0.8]).reshape(-1, 1)
    model = xpnn.Model(identity_model()[0], PassThrough())
    loss = losses.BinaryCrossEntropy(from_logits=False)
    assert model.evaluate(X, ISSUE_LABELS, loss=loss, metrics=["accuracy"])["binary_accuracy"] == pytest.approx(0.625)
    chosen = model.evaluate(X, ISSUE_LABELS, loss=loss, metrics=[metrics.BinaryAccuracy(threshold=0.35)])
    assert chosen["binary_accuracy"] == pytest.approx(0.75)


# ---------------------------------------------------------------- metric, loss and target agree

def test_a_regression_metric_with_cross_entropy_fails_before_training(xp):
    X, y = np.random.default_rng(14).normal(size=(12, 3)), np.arange(12) % 3
    model = xpnn.Model(xpnn.Dense(3, 3))
    before = xpnn.to_numpy(model[0].weight.value).copy()
    with pytest.raises(ValueError, match=r"^fit: metric 'mae' does not fit the loss 'cross_entropy': mae compares "
                                         r"outputs with targets of the same shape .* use 'accuracy'"):
        model.fit(X, y, loss="cross_entropy", optimizer="sgd", metrics=["mae"], verbose=0)
    np.testing.assert_array_equal(xpnn.to_numpy(model[0].weight.value), before)  # no step was taken


def test_accuracy_of_one_continuous_output_fails_before_training(xp):
    X = np.random.default_rng(15).normal(size=(12, 3))
    y = X.sum(axis=1)
    with pytest.raises(ValueError, match=r"^fit: metric 'accuracy' does not fit the loss 'mse': accuracy takes the "
                                         r"arg-max over the outputs, and the model has one output, so it would always "
                                         r"predict class 0; use 'mae', 'mse' or 'r2' .*'binary_accuracy'"):
        xpnn.Model(xpnn.Dense(3, 1)).fit(X, y, loss="mse", optimizer="sgd", metrics=["accuracy"], verbose=0)


def test_accuracy_of_one_hot_rows_with_mse_is_allowed(xp):
    # Keras' rule: an arg-max metric takes any loss when the model has a column per class
    X, labels = np.random.default_rng(16).normal(size=(12, 3)), np.arange(12) % 3
    result = xpnn.Model(xpnn.Dense(3, 3)).evaluate(X, np.eye(3)[labels], loss="mse", metrics=["accuracy"])
    assert 0 <= result["accuracy"] <= 1


LOSSES = {  # the loss, and the kind of target to give it
    "mse": "values", "mae": "values", "huber": "values",
    "bce": "binary", "bce_probabilities": "binary", "cross_entropy": "class_labels",
}
METRIC_CLASSES = sorted({type(metrics.get(name)) for name in metrics.METRICS.names()}, key=lambda c: c.__name__)


def loss_named(key):
    return losses.BinaryCrossEntropy(from_logits=False) if key == "bce_probabilities" else losses.get(key)


@pytest.mark.parametrize("outputs", [1, 3])
@pytest.mark.parametrize("loss_key", sorted(LOSSES))
@pytest.mark.parametrize("metric_class", METRIC_CLASSES, ids=lambda c: c.__name__)
def test_every_metric_with_every_loss_works_or_says_why_before_training(xp, metric_class, loss_key, outputs):
    """A metric the check lets through gives a number on data of the loss's target kind; one
    it refuses is refused by name, with the loss and what to use instead."""
    rng = np.random.default_rng(17)
    loss = loss_named(loss_key)
    X = rng.uniform(size=(24, 2))
    kind = LOSSES[loss_key]
    y = (rng.normal(size=(24, outputs)) if kind == "values" else rng.integers(0, 2, size=(24, outputs)).astype(float)
         if kind == "binary" else np.arange(24) % outputs)
    model = xpnn.Model(xpnn.Dense(2, outputs, activation="sigmoid" if loss_key == "bce_probabilities" else None))
    metric = metric_class()
    reason = metric.problem(loss, outputs)
    if reason is not None:
        with pytest.raises(ValueError) as error:
            model.evaluate(X, y, loss=loss, metrics=[metric])
        message = str(error.value)
        assert message.startswith(f"evaluate: metric {metric.name!r} does not fit the loss {loss.name!r}: ")
        assert "use " in message
        return
    value = model.evaluate(X, y, loss=loss, metrics=[metric])[metric.name]
    assert np.isfinite(value)
    if metric.name not in ("mae", "mse", "r2"):
        assert 0 <= value <= 1


@pytest.mark.parametrize("metric_name, loss_key, outputs", [
    ("mae", "cross_entropy", 3), ("r2", "bce", 1), ("accuracy", "mse", 1), ("accuracy", "bce", 1),
    ("binary_accuracy", "cross_entropy", 3), ("auc", "cross_entropy", 3), ("top_k_accuracy", "cross_entropy", 3),
    ("precision", "cross_entropy", 3), ("f1", "bce", 3), ("recall", "cross_entropy", 1),
])
def test_meaningless_pairs_are_refused(metric_name, loss_key, outputs):
    assert metrics.get(metric_name).problem(loss_named(loss_key), outputs) is not None


@pytest.mark.parametrize("metric_name, loss_key, outputs", [
    ("mae", "mse", 1), ("mse", "bce_probabilities", 1), ("accuracy", "mse", 3), ("accuracy", "cross_entropy", 3),
    ("binary_accuracy", "mse", 1), ("auc", "bce", 3), ("precision", "cross_entropy", 2), ("f1", "bce", 1),
])
def test_meaningful_pairs_are_accepted(metric_name, loss_key, outputs):
    assert metrics.get(metric_name).problem(loss_named(loss_key), outputs) is None


def test_check_compatible_names_the_place_metric_and_loss():
    with pytest.raises(ValueError, match=r"^evaluate: metric 'top_k_accuracy' does not fit the loss 'cross_entropy': "
                                         r"top_k_accuracy with k=5 on a model with 3 outputs counts every sample as a "
                                         r"hit; use a k below 3"):
        metrics.check_compatible([metrics.TopKAccuracy()], losses.CrossEntropy(), 3, "evaluate")
    with pytest.raises(ValueError, match=r"precision with average='binary' scores class 1 of two classes, and the "
                                         r"model has 3 outputs; use xpnn\.metrics\.Precision\(average='macro', 'micro' or 'weighted'\)"):
        metrics.check_compatible([metrics.Precision()], losses.CrossEntropy(), 3, "fit")


def test_every_built_in_metric_declares_what_it_compares_and_a_user_metric_is_not_checked():
    assert all(cls.compares is not None for cls in METRIC_CLASSES)

    class Hits(metrics.Metric):  # a user's metric: declares nothing, so nothing is refused
        name = "hits"

    metrics.check_compatible([Hits()], losses.CrossEntropy(), 1, "fit")


# ---------------------------------------------------------------- errors

def test_errors(xp):
    with pytest.raises(ValueError, match=r"unknown metric 'f2'; valid names: acc, accuracy"):
        metrics.get("f2")
    with pytest.raises(ValueError, match=r"accuracy: no batch was seen"):
        metrics.Accuracy().result()
    for metric in (metrics.R2(), metrics.F1(), metrics.AUC()):
        with pytest.raises(ValueError, match=rf"{metric.name}: no batch was seen"):
            metric.result()


@pytest.mark.parametrize("make, message", [
    (lambda: metrics.Precision(average="samples"),
     r"Precision: average must be one of 'binary', 'macro', 'micro', 'weighted', got 'samples'"),
    (lambda: metrics.F1(zero_division="warn"), r"F1: zero_division must be 0 or 1, got 'warn'"),
    (lambda: metrics.TopKAccuracy(k=0), r"TopKAccuracy: k must be a positive int, got 0"),
    (lambda: metrics.TopKAccuracy(k=2.0), r"TopKAccuracy: k must be a positive int, got 2.0"),
])
def test_bad_arguments_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_threshold_must_be_a_number():
    with pytest.raises(TypeError, match=r"BinaryAccuracy: threshold must be a number, got '0.5'"):
        metrics.BinaryAccuracy(threshold="0.5")
    with pytest.raises(ValueError, match=r"Recall: threshold must be finite, got nan"):
        metrics.Recall(threshold=float("nan"))
