"""Issue 15: what a Keras or PyTorch user reaches for on a Model, and the traps it must not set.

Final activations against the loss, sample and class weights, the training configuration a
saved model keeps, summary/weights, Sequential's list form, learning_rate=, and the error for
one sample given to predict.
"""

import re
import warnings

import numpy as np
import pytest

import xpnn
from xpnn.nn import losses

from .helpers import host_normal


def binary_data(n=64, seed=0):
    X = host_normal(n, 4, seed=seed).astype("float32")
    return X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype("float32")


def class_data(n=60, classes=3, seed=0):
    X = host_normal(n, 4, seed=seed).astype("float32")
    return X, np.argmax(X[:, :classes], axis=1)


# ---------------------------------------------------------------- 1. output activation vs loss

BINARY_ALIASES = ["binary_cross_entropy", "bce", "binary_crossentropy"]
CLASS_ALIASES = ["cross_entropy", "categorical_cross_entropy", "categorical_crossentropy",
                 "sparse_categorical_crossentropy"]


def test_every_alias_is_covered():
    """The lists above are every name of the two losses: a new alias must join the tests."""
    names = losses.LOSSES.names()
    assert sorted(n for n in names if losses.LOSSES.lookup(n) is losses.BinaryCrossEntropy) == sorted(BINARY_ALIASES)
    assert sorted(n for n in names if losses.LOSSES.lookup(n) is losses.CrossEntropy) == sorted(CLASS_ALIASES)


@pytest.mark.parametrize("loss", BINARY_ALIASES)
@pytest.mark.parametrize("ending", ["dense", "layer"])
@pytest.mark.parametrize("method", ["fit", "evaluate"])
def test_sigmoid_output_with_logits_bce_is_refused(xp, loss, ending, method):
    X, y = binary_data()
    head = ([xpnn.Dense(8, 1, activation="sigmoid")] if ending == "dense"
            else [xpnn.Dense(8, 1), xpnn.Sigmoid()])
    model = xpnn.Model(xpnn.Dense(4, 8, activation="relu"), *head)
    before = model.get_weights()
    with pytest.raises(ValueError) as error:
        if method == "fit":
            model.fit(X, y, loss=loss, optimizer="adam", verbose=0)
        else:
            model.evaluate(X, y, loss=loss)
    message = str(error.value)
    assert message.startswith(f"{method}: the model's last layer")
    assert "ends in sigmoid" in message and "applied twice" in message
    assert "BinaryCrossEntropy(from_logits=False)" in message
    assert ("activation='sigmoid'" if ending == "dense" else "the final Sigmoid() layer") in message
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)  # refused before any step


@pytest.mark.parametrize("loss", CLASS_ALIASES)
@pytest.mark.parametrize("ending", ["dense", "layer"])
def test_softmax_output_with_logits_cross_entropy_is_refused(xp, loss, ending):
    X, y = class_data()
    head = ([xpnn.Dense(8, 3, activation="softmax")] if ending == "dense"
            else [xpnn.Dense(8, 3), xpnn.Softmax()])
    model = xpnn.Model(xpnn.Dense(4, 8, activation="relu"), *head)
    with pytest.raises(ValueError, match=r"ends in softmax.*applied twice.*CrossEntropy\(from_logits=False\)"):
        model.fit(X, y, loss=loss, optimizer="adam", verbose=0)


@pytest.mark.parametrize("activation", ["sigmoid", "softmax", "hard_sigmoid"])
def test_probability_outputs_are_refused_by_either_logits_loss(activation):
    X, y = class_data()
    model = xpnn.Model(xpnn.Dense(4, 3, activation=activation))
    with pytest.raises(ValueError, match=f"ends in {activation}"):
        model.fit(X, y, loss="cross_entropy", optimizer="adam", verbose=0)


@pytest.mark.parametrize("loss", [xpnn.BinaryCrossEntropy(from_logits=False), xpnn.CrossEntropy(from_logits=False)])
@pytest.mark.parametrize("activation", [None, "relu", "tanh"])
def test_a_loss_on_probabilities_refuses_outputs_that_are_not(loss, activation):
    X, y = binary_data() if loss.target_kind == "binary" else class_data()
    outputs = 1 if loss.target_kind == "binary" else 3
    model = xpnn.Model(xpnn.Dense(4, outputs, activation=activation))
    with pytest.raises(ValueError, match=r"takes probabilities \(from_logits=False\) and would clip"):
        model.fit(X, y, loss=loss, optimizer="adam", verbose=0)


def test_the_keras_idiom_trains_with_from_logits_false(xp):
    """The issue's case: sigmoid output + BCE on logits could not go below about 0.31. With the
    loss told it gets probabilities, the same model separates the data."""
    X, y = binary_data(n=128)
    xpnn.set_seed(0)
    model = xpnn.Model(xpnn.Dense(4, 16, activation="relu"), xpnn.Dense(16, 1, activation="sigmoid"))
    history = model.fit(X, y, loss=xpnn.BinaryCrossEntropy(from_logits=False), optimizer=xpnn.Adam(lr=0.05),
                        epochs=60, batch_size=None, verbose=0)
    assert history["loss"][-1] < 0.1
    softmax_model = xpnn.Model(xpnn.Dense(4, 16, activation="relu"), xpnn.Dense(16, 2), xpnn.Softmax())
    history = softmax_model.fit(X, y.astype(int), loss=xpnn.CrossEntropy(from_logits=False),
                                optimizer=xpnn.Adam(lr=0.05), epochs=60, batch_size=None, verbose=0)
    assert history["loss"][-1] < 0.1


def test_models_whose_last_layer_is_unknown_are_not_judged():
    class Custom(xpnn.Layer):
        def forward(self, x, training=True):
            return x, lambda dout: dout

    X, y = binary_data()
    xpnn.training.fit(xpnn.Sequential(xpnn.Dense(4, 1), Custom()), X, y, loss="bce", optimizer="sgd", verbose=0)


def test_cross_entropy_on_probabilities_matches_logits_and_its_gradient(xp):
    z = host_normal(5, 4, seed=3)
    labels = np.array([0, 3, 1, 1, 2])
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    on_logits = xpnn.CrossEntropy()(xpnn.asarray(z, dtype="float64"), xpnn.asarray(labels))
    value, backward = xpnn.CrossEntropy(from_logits=False).forward(xpnn.asarray(p, dtype="float64"),
                                                                   xpnn.asarray(labels))
    assert float(value) == pytest.approx(float(on_logits), rel=1e-12)
    grad = xpnn.to_numpy(backward())
    expected = np.zeros_like(p)
    expected[np.arange(5), labels] = -1 / p[np.arange(5), labels] / 5
    np.testing.assert_allclose(grad, expected, rtol=1e-12)
    with pytest.raises(ValueError, match="from_logits=False.*probabilities in \\[0, 1\\]"):
        xpnn.CrossEntropy(from_logits=False)(xpnn.asarray(z, dtype="float64"), xpnn.asarray(labels))
    with pytest.raises(TypeError, match="from_logits must be True or False"):
        xpnn.CrossEntropy(from_logits="no")


# ---------------------------------------------------------------- sample and class weights

def _numeric_grad(loss, pred, target, weight, eps=1e-6):
    grad = np.zeros_like(pred)
    for index in np.ndindex(pred.shape):
        step = np.zeros_like(pred)
        step[index] = eps
        up = float(loss(xpnn.asarray(pred + step), target, weight))
        down = float(loss(xpnn.asarray(pred - step), target, weight))
        grad[index] = (up - down) / (2 * eps)
    return grad


def _per_sample_reference(loss, pred, target):
    """The per-sample losses as PyTorch's reduction='none' gives them, averaged over a
    sample's elements (written out in NumPy)."""
    if isinstance(loss, xpnn.MSE):
        return ((pred - target) ** 2).mean(axis=1)
    if isinstance(loss, xpnn.MAE):
        return np.abs(pred - target).mean(axis=1)
    if isinstance(loss, xpnn.Huber):
        d = np.abs(pred - target)
        return np.where(d <= loss.delta, 0.5 * d * d, loss.delta * (d - 0.5 * loss.delta)).mean(axis=1)
    if isinstance(loss, xpnn.BinaryCrossEntropy):
        return (np.maximum(pred, 0) - pred * target + np.log1p(np.exp(-np.abs(pred)))).mean(axis=1)
    log_p = pred - np.log(np.exp(pred).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(target)), target]


LOSS_CASES = [
    (xpnn.MSE(), "values"), (xpnn.MAE(), "values"), (xpnn.Huber(delta=0.5), "values"),
    (xpnn.BinaryCrossEntropy(), "binary"), (xpnn.CrossEntropy(), "labels"),
]


@pytest.mark.parametrize("loss,kind", LOSS_CASES, ids=lambda case: repr(case))
def test_weighted_loss_is_the_weighted_mean_of_per_sample_losses(xp, loss, kind):
    rng = np.random.default_rng(7)
    pred = rng.normal(size=(6, 3))
    target = {"values": rng.normal(size=(6, 3)), "binary": rng.uniform(size=(6, 3)),
              "labels": rng.integers(0, 3, size=6)}[kind]
    weights = rng.uniform(0, 2, size=6)
    weights[2] = 0.0
    t, w = xpnn.asarray(target), xpnn.asarray(weights, dtype="float64")
    value, backward = loss.forward(xpnn.asarray(pred, dtype="float64"), t, sample_weight=w)
    per_sample = _per_sample_reference(loss, pred, target)
    assert float(value) == pytest.approx((weights * per_sample).sum() / weights.sum(), rel=1e-12)
    np.testing.assert_allclose(xpnn.to_numpy(backward()), _numeric_grad(loss, pred, t, w), atol=1e-8)
    ones = loss(xpnn.asarray(pred, dtype="float64"), t, xpnn.asarray(np.ones(6)))
    assert float(ones) == pytest.approx(float(loss(xpnn.asarray(pred, dtype="float64"), t)), rel=1e-14)
    zero_value, zero_backward = loss.forward(xpnn.asarray(pred, dtype="float64"), t,
                                             sample_weight=xpnn.asarray(np.zeros(6)))
    assert float(zero_value) == 0.0 and not np.any(xpnn.to_numpy(zero_backward()))


def test_a_loss_without_per_sample_terms_says_it_cannot_weight():
    class Mine(xpnn.Loss):
        def _forward(self, xp, pred, target):
            return xp.mean(pred), lambda: xp.ones_like(pred) / pred.shape[0]

    pred = xpnn.asarray(np.ones((2, 1)))
    with pytest.raises(TypeError, match="Mine does not support sample_weight"):
        Mine()(pred, pred, xpnn.asarray(np.ones(2)))
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(2,\)"):
        xpnn.MSE()(pred, pred, xpnn.asarray(np.ones(3)))


def _trained(X, y, **weights):
    xpnn.set_seed(5)
    model = xpnn.Model(xpnn.Dense(4, 6, activation="tanh"), xpnn.Dense(6, 3))
    model.fit(X, y, loss="cross_entropy", optimizer=xpnn.SGD(lr=0.1), epochs=5, batch_size=None,
              shuffle=False, verbose=0, **weights)
    return model.get_weights()


def test_an_integer_weight_is_the_sample_repeated(xp):
    """Full-batch gradient descent with weight 2 on a sample is the same as that sample twice."""
    X, y = class_data(n=20)
    weights = np.ones(20)
    weights[:5] = 2
    repeated = _trained(np.concatenate([X, X[:5]]), np.concatenate([y, y[:5]]))
    for got, expected in zip(_trained(X, y, sample_weight=weights), repeated):
        np.testing.assert_allclose(got, expected, rtol=2e-5, atol=1e-6)


def test_class_weight_is_sample_weight_from_its_table(xp):
    X, y = class_data(n=30)
    table = {0: 1.0, 1: 3.0}  # class 2 left out: weighs 1, as in Keras
    by_class = _trained(X, y, class_weight=table)
    by_sample = _trained(X, y, sample_weight=np.array([table.get(label, 1.0) for label in y]))
    for got, expected in zip(by_class, by_sample):
        np.testing.assert_array_equal(got, expected)
    both = _trained(X, y, class_weight=table, sample_weight=np.full(30, 2.0))
    for got, expected in zip(both, by_class):  # a constant factor cancels in the weighted mean
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


def test_weighted_epoch_loss_and_evaluate(xp):
    X, y = class_data(n=50)
    weights = np.random.default_rng(1).uniform(0.1, 3, size=50)
    model = xpnn.Model(xpnn.Dense(4, 3))
    history = model.fit(X, y, loss="cross_entropy", optimizer=xpnn.SGD(lr=1e-12), epochs=1, batch_size=16,
                        sample_weight=weights, validation_data=(X, y, weights), verbose=0)
    logits = xpnn.to_numpy(model.predict(X)).astype(np.float64)
    per_sample = _per_sample_reference(xpnn.CrossEntropy(), logits, y)
    expected = (weights * per_sample).sum() / weights.sum()
    assert history["val_loss"][0] == pytest.approx(expected, rel=1e-5)
    assert history["loss"][0] == pytest.approx(expected, rel=1e-5)  # lr 1e-12: the weights barely move
    result = model.evaluate(X, y, sample_weight=weights, batch_size=7)
    assert result["loss"] == pytest.approx(expected, rel=1e-5)
    assert result["accuracy"] == pytest.approx(np.mean(logits.argmax(axis=1) == y))  # not weighted


@pytest.mark.parametrize("arguments,error,message", [
    ({"sample_weight": np.ones(5)}, ValueError, r"sample_weight must have shape \(64,\)"),
    ({"sample_weight": -np.ones(64)}, ValueError, r"finite weights >= 0; sample 0 has -1"),
    ({"sample_weight": np.r_[np.ones(63), np.nan]}, ValueError, r"sample 63 has nan"),
    ({"sample_weight": np.zeros(64)}, ValueError, "every sample has weight 0"),
    ({"sample_weight": ["a"] * 64}, TypeError, "sample_weight cannot be turned into a numeric array"),
    ({"class_weight": [1, 2]}, TypeError, r"class_weight must be a dict \{class: weight\}, got list"),
    ({"class_weight": {2: 1.0}}, ValueError, "class_weight has key 2, but the classes are the integers 0 to 1"),
    ({"class_weight": {1: -1.0}}, ValueError, r"class_weight\[1\] must be a finite number >= 0"),
    ({"class_weight": {0: 0, 1: 0}}, ValueError, "every sample has weight 0"),
    ({"validation_data": (np.ones((3, 4)), np.ones(3), np.ones(2))}, ValueError,
     r"validation_data\[2\] must have shape \(3,\)"),
    ({"validation_data": (1, 2, 3, 4)}, ValueError, "a pair .* or a triple"),
])
def test_weight_errors_name_the_argument_before_any_step(arguments, error, message):
    X, y = binary_data()
    model = xpnn.Model(xpnn.Dense(4, 1))
    before = model.get_weights()
    with pytest.raises(error, match=message):
        model.fit(X, y, loss="bce", optimizer="sgd", verbose=0, **arguments)
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    assert model.loss is None  # nothing remembered from a refused call


def test_class_weight_needs_a_classifier():
    X, y = binary_data()
    with pytest.raises(ValueError, match="class_weight needs a model that predicts one class per sample"):
        xpnn.Model(xpnn.Dense(4, 1)).fit(X, y, loss="mse", class_weight={0: 1}, optimizer="sgd", verbose=0)


def test_validation_split_that_leaves_only_zero_weights_is_refused():
    X, y = binary_data()
    weights = np.r_[np.zeros(48), np.ones(16)]
    with pytest.raises(ValueError, match="every training sample left by validation_split=0.25 has weight 0"):
        xpnn.Model(xpnn.Dense(4, 1)).fit(X, y, loss="bce", optimizer="sgd", sample_weight=weights,
                                         validation_split=0.25, verbose=0)


# ---------------------------------------------------------------- the training configuration

def test_a_loaded_model_remembers_loss_metrics_and_optimizer(xp, tmp_path):
    X, y = class_data()
    xpnn.set_seed(2)
    model = xpnn.Model(xpnn.Dense(4, 8, activation="relu"), xpnn.Dense(8, 3))
    model.fit(X, y, loss=xpnn.CrossEntropy(label_smoothing=0.1), optimizer=xpnn.Adam(learning_rate=0.01),
              metrics=["accuracy"], epochs=2, verbose=0, seed=0)
    model.save(tmp_path / "m.xpnn")
    loaded = xpnn.load(tmp_path / "m.xpnn")
    assert repr(loaded.loss) == "CrossEntropy(label_smoothing=0.1)"
    assert [m.name for m in loaded.metrics] == ["accuracy"] and loaded.optimizer.lr == 0.01
    assert loaded.evaluate(X, y) == model.evaluate(X, y)
    # a further fit with nothing repeated continues the optimizer's moments exactly
    model.fit(X, y, epochs=1, verbose=0, seed=1)
    loaded.fit(X, y, epochs=1, verbose=0, seed=1)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_checkpoint_loads_with_its_loss_and_metrics(tmp_path):
    X, y = binary_data()
    model = xpnn.Model(xpnn.Dense(4, 1))
    model.fit(X, y, loss="bce", optimizer="sgd", epochs=1, verbose=0,
              callbacks=[xpnn.ModelCheckpoint(tmp_path / "run.ckpt")])
    loaded = xpnn.load(tmp_path / "run.ckpt")
    assert isinstance(loaded.loss, xpnn.BinaryCrossEntropy) and [m.name for m in loaded.metrics] == ["binary_accuracy"]
    assert loaded.evaluate(X, y) == model.evaluate(X, y)


def test_fit_and_evaluate_without_a_loss_say_so():
    X, y = binary_data()
    model = xpnn.Model(xpnn.Dense(4, 1))
    with pytest.raises(ValueError, match="fit: loss is required"):
        model.fit(X, y, optimizer="sgd", verbose=0)
    with pytest.raises(ValueError, match="evaluate: loss is required"):
        model.evaluate(X, y)


def test_a_users_own_loss_is_saved_without_training_configuration(tmp_path):
    class Doubled(xpnn.MSE):
        pass

    X, y = binary_data()
    model = xpnn.Model(xpnn.Dense(4, 1))
    model.fit(X, y, loss=Doubled(), optimizer="sgd", verbose=0)
    with pytest.warns(UserWarning, match="saved without its training configuration"):
        model.save(tmp_path / "m.xpnn")
    assert xpnn.load(tmp_path / "m.xpnn").loss is None


# ---------------------------------------------------------------- summary and weights

def test_summary_table_and_totals(xp):
    model = xpnn.Model(xpnn.Dense(4, 8, activation="relu"), xpnn.BatchNorm(8), xpnn.Dropout(0.2),
                       xpnn.Dense(8, 3))
    model.layers[0].freeze()
    text = model.summary(print_fn=None)
    lines = text.splitlines()
    assert lines[0].startswith("Model (float32, backend")
    assert any(line.startswith("(0) Dense(4, 8, activation=ReLU())") and "(None, 8)" in line
               and line.endswith(" 40") for line in lines)
    assert any(line.startswith("(3) Dense(8, 3)") and "(None, 3)" in line and line.endswith(" 27") for line in lines)
    assert "Total params: 83" in lines and "Trainable params: 43" in lines and "Frozen params: 40" in lines
    assert "Buffers (not trained, e.g. running statistics): 16" in lines
    assert model.count_params() == 83
    printed = []
    assert model.summary(input_shape=(4,), print_fn=printed.append) == text == printed[0]


def test_summary_without_a_known_input_and_with_a_wrong_one():
    class Scale(xpnn.Layer):
        def forward(self, x, training=True):
            return 2 * x, lambda dout: 2 * dout

    model = xpnn.Model(Scale(), xpnn.Dense(4, 2))
    assert re.search(r"\(0\) Scale\(\)\s+\?\s+0\n", model.summary(print_fn=None))
    assert "(None, 2)" in model.summary(input_shape=(4,), print_fn=None)
    with pytest.raises(ValueError, match=r"summary: layer 1 \(Dense\(4, 2\)\) cannot take input of shape \(None, 5\)"):
        model.summary(input_shape=(5,))
    with pytest.raises(ValueError, match="input_shape must be the shape of one sample"):
        model.summary(input_shape=4)


def test_get_and_set_weights(xp):
    model = xpnn.Model(xpnn.Dense(3, 4), xpnn.BatchNorm(4), xpnn.Dense(4, 1))
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(3, 4), (4,), (4,), (4,), (4,), (4,), (4, 1), (1,)]
    assert all(isinstance(w, np.ndarray) for w in weights)
    other = xpnn.Model(xpnn.Dense(3, 4), xpnn.BatchNorm(4), xpnn.Dense(4, 1))
    other.set_weights(weights)
    for a, b in zip(other.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    weights[0][0, 0] = 99.0  # a copy: changing it leaves the model alone
    assert model.get_weights()[0][0, 0] != 99.0
    before = other.get_weights()
    bad_shape = [*before[:7], np.zeros((2,))]
    for bad, error, message in [
        (before[:3], ValueError, "got 3 arrays, but this model holds 8: layers.0.weight"),
        (bad_shape, ValueError, r"weights\[7\] \(layers.2.bias\) has shape \(2,\), the model's has \(1,\)"),
        ([np.array(["x"] * 12).reshape(3, 4), *before[1:]], TypeError, r"weights\[0\] \(layers.0.weight\) is not a numeric array"),
        (np.zeros(3), TypeError, "weights must be a list of arrays"),
    ]:
        with pytest.raises(error, match=message):
            other.set_weights(bad)
        for a, b in zip(other.get_weights(), before):
            np.testing.assert_array_equal(a, b)  # nothing changed


def test_save_weights_and_load_weights(tmp_path):
    model = xpnn.Model(xpnn.Dense(3, 2))
    model.save_weights(tmp_path / "w.xpnn")
    fresh = xpnn.Model(xpnn.Dense(3, 2)).load_weights(tmp_path / "w.xpnn")
    np.testing.assert_array_equal(fresh.get_weights()[0], model.get_weights()[0])
    with pytest.raises(ValueError, match="w.xpnn: does not match this model's architecture"):
        xpnn.Model(xpnn.Dense(3, 5)).load_weights(tmp_path / "w.xpnn")


# ---------------------------------------------------------------- Keras and PyTorch habits

def test_sequential_takes_a_list_and_says_how_to_train():
    layers = [xpnn.Dense(2, 3), xpnn.ReLU()]
    assert xpnn.Sequential(layers).layers == layers
    assert xpnn.Model(layers).layers == layers
    with pytest.raises(AttributeError, match=r"Sequential has no fit\(\).*xpnn.Model\(\.\.\.\)"):
        xpnn.Sequential(layers).fit
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        xpnn.Sequential(layers).nothing
    assert repr(xpnn.Model(xpnn.Dense(2, 3))).startswith("Model(")


@pytest.mark.parametrize("name", ["SGD", "RMSprop", "Adam", "AdamW"])
def test_optimizers_take_learning_rate(name):
    cls = getattr(xpnn, name)
    assert cls(learning_rate=0.25).lr == 0.25 == cls(lr=0.25).learning_rate
    assert xpnn.optimizers.get(name.lower(), learning_rate=0.5).lr == 0.5
    with pytest.raises(TypeError, match="lr or as learning_rate, not both"):
        cls(lr=0.1, learning_rate=0.1)
    defaults = {"SGD": 0.01}.get(name, 0.001)
    assert cls().lr == defaults


def test_one_sample_given_to_predict_gets_the_right_advice():
    model = xpnn.Model(xpnn.Dense(4, 2))
    with pytest.raises(ValueError, match=r"got shape \(4,\); it looks like one sample of 4 features: use X.reshape\(1, -1\)"):
        model.predict(np.ones(4))
    with pytest.raises(ValueError, match=r"reshape a single feature with X.reshape\(-1, 1\)"):
        xpnn.Model(xpnn.Dense(1, 2)).predict(np.ones(4))
    assert model.predict(np.ones(4).reshape(1, -1)).shape == (1, 2)


def test_no_warnings_from_an_ordinary_run(tmp_path):
    X, y = binary_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = xpnn.Model(xpnn.Dense(4, 1))
        model.fit(X, y, loss="bce", optimizer="adam", verbose=0)
        model.save(tmp_path / "m.xpnn")


@pytest.mark.parametrize("loss, kind", LOSS_CASES, ids=lambda case: repr(case))
def test_weighted_losses_match_pytorch(loss, kind):
    """The issue's reference: PyTorch's reduction="none", then sum(w * l) / sum(w); gradients
    through torch.autograd."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    pred = rng.normal(size=(7, 3))
    target = {"values": rng.normal(size=(7, 3)), "binary": rng.uniform(size=(7, 3)),
              "labels": rng.integers(0, 3, size=7)}[kind]
    weights = rng.uniform(0, 2, size=7)
    z, t, w = torch.tensor(pred, requires_grad=True), torch.tensor(target), torch.tensor(weights)
    functional = torch.nn.functional
    per_element = {
        "MSE": lambda: functional.mse_loss(z, t, reduction="none"),
        "MAE": lambda: functional.l1_loss(z, t, reduction="none"),
        "Huber": lambda: functional.huber_loss(z, t, reduction="none", delta=0.5),
        "BinaryCrossEntropy": lambda: functional.binary_cross_entropy_with_logits(z, t, reduction="none"),
        "CrossEntropy": lambda: functional.cross_entropy(z, t, reduction="none"),
    }[type(loss).__name__]()
    per_sample = per_element if per_element.ndim == 1 else per_element.mean(dim=1)
    theirs = (w * per_sample).sum() / w.sum()
    theirs.backward()
    value, backward = loss.forward(xpnn.asarray(pred, dtype="float64"), xpnn.asarray(target),
                                   sample_weight=xpnn.asarray(weights, dtype="float64"))
    assert float(value) == pytest.approx(theirs.item(), rel=1e-12)
    np.testing.assert_allclose(xpnn.to_numpy(backward()), z.grad.numpy(), rtol=1e-10, atol=1e-14)


# ---------------------------------------------------------------- found by review

def test_a_refused_fit_keeps_the_models_configuration(xp):
    """A fit refused by a callback's own check (after fit's argument checks) used to replace
    model.loss, model.optimizer and model.metrics anyway."""
    X, y = binary_data()
    model = xpnn.Model(xpnn.Dense(4, 2))
    optimizer = xpnn.SGD(lr=0.1, momentum=0.9)
    model.fit(X, y.astype(int), loss="cross_entropy", optimizer=optimizer, epochs=2, verbose=0)
    with pytest.raises(ValueError, match="needs validation data"):
        model.fit(X, np.eye(2)[y.astype(int)], loss="mse", optimizer="adam", metrics=["mae"], verbose=0,
                  callbacks=[xpnn.EarlyStopping(monitor="val_loss")])
    assert isinstance(model.loss, xpnn.CrossEntropy) and model.optimizer is optimizer
    assert [m.name for m in model.metrics] == ["accuracy"] and optimizer.iterations == 4
    model.evaluate(X, y.astype(int))


def test_metric_settings_are_remembered_and_saved(tmp_path):
    X, y = class_data(n=40, classes=4)
    model = xpnn.Model(xpnn.Dense(4, 4))
    chosen = [xpnn.metrics.TopKAccuracy(k=2), xpnn.metrics.F1(average="macro")]
    model.fit(X, y, loss="cross_entropy", optimizer="sgd", metrics=chosen, verbose=0)
    expected = model.evaluate(X, y, metrics=[xpnn.metrics.TopKAccuracy(k=2), xpnn.metrics.F1(average="macro")])
    assert model.evaluate(X, y) == expected  # k=2 and macro, not k=5 and 'binary'
    model.save(tmp_path / "m.xpnn")
    loaded = xpnn.load(tmp_path / "m.xpnn")
    assert [m.get_config() for m in loaded.metrics] == [{"k": 2}, {"average": "macro", "threshold": None,
                                                                     "zero_division": 0}]
    assert loaded.evaluate(X, y) == expected


def test_a_users_own_metric_is_left_out_of_the_file_with_a_warning(tmp_path):
    class Mine(xpnn.metrics.MeanSquaredError):
        name = "mine"

    X, y = binary_data()
    model = xpnn.Model(xpnn.Dense(4, 1))
    model.fit(X, y, loss="mse", optimizer="sgd", metrics=[Mine()], verbose=0)
    with pytest.warns(UserWarning, match="the metric Mine is not one xpnn can rebuild"):
        model.save(tmp_path / "m.xpnn")
    assert xpnn.load(tmp_path / "m.xpnn").metrics == []


def test_class_weight_does_not_weigh_the_held_out_samples(xp):
    """Keras's rule, and Model.fit's docstring: class_weight weighs training only."""
    X, y = class_data(n=40, classes=2)
    model = xpnn.Model(xpnn.Dense(4, 2))
    history = model.fit(X, y, loss="cross_entropy", optimizer=xpnn.SGD(lr=1e-30), class_weight={0: 100.0},
                        validation_split=0.25, verbose=0)
    assert history["val_loss"][0] == pytest.approx(model.evaluate(X[-10:], y[-10:])["loss"], rel=1e-6)
    weights = np.linspace(0.5, 2, 40)
    history = model.fit(X, y, loss="cross_entropy", optimizer=xpnn.SGD(lr=1e-30), class_weight={0: 100.0},
                        sample_weight=weights, validation_split=0.25, verbose=0)
    assert history["val_loss"][0] == pytest.approx(
        model.evaluate(X[-10:], y[-10:], sample_weight=weights[-10:])["loss"], rel=1e-6)


def test_summary_of_a_model_built_under_another_backend():
    with xpnn.use_backend("array_api_strict"):
        model = xpnn.Model(xpnn.Dense(4, 3), xpnn.ReLU(), xpnn.Dense(3, 2))
    text = model.summary(print_fn=None)
    assert "backend array_api_strict" in text and "(None, 2)" in text


# ---------------------------------------------------------------- found by a new-user trial

def test_resuming_takes_the_loss_from_the_checkpoint(tmp_path):
    X, y = class_data()
    path = tmp_path / "c.ckpt"
    xpnn.set_seed(3)
    first = xpnn.Model(xpnn.Dense(4, 3))
    first.fit(X, y, loss=xpnn.CrossEntropy(label_smoothing=0.1), optimizer="adam", epochs=2, verbose=0,
              callbacks=[xpnn.ModelCheckpoint(path)])
    resumed = xpnn.Model(xpnn.Dense(4, 3))
    history = resumed.fit(X, y, epochs=4, resume_from=path, verbose=0)  # nothing repeated
    assert repr(resumed.loss) == "CrossEntropy(label_smoothing=0.1)" and history.epoch == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="fit: loss is required"):
        xpnn.Model(xpnn.Dense(4, 3)).fit(X, y, optimizer="adam", verbose=0)


def test_class_labels_given_to_a_regression_loss_get_the_real_shapes_and_the_fix():
    X, y = class_data()
    with pytest.raises(ValueError, match=r"fit: y does not match the model's output for this loss: y has shape \(60,\) "
                                         r"and the model outputs \(60, 3\) \(class labels\? use loss='cross_entropy', "
                                         r"or one-hot encode y\); the loss said: MSE: "):
        xpnn.Model(xpnn.Dense(4, 3)).fit(X, y, loss="mse", optimizer="adam", verbose=0)
