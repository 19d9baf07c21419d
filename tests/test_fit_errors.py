"""Bad input to fit / predict / evaluate: a clear error naming the argument, raised before any
training step (the weights are untouched afterwards)."""

import numpy as np
import pytest

import xpnn


def small_model():
    return xpnn.Model(xpnn.Dense(4, 8, activation="relu"), xpnn.Dense(8, 3))


def data(n=12):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)), rng.integers(0, 3, size=n)


def weights(model):
    return [xpnn.to_numpy(p.value).copy() for p in model.parameters()]


def assert_fit_refused(match, error=ValueError, X=None, y=None, **kwargs):
    model = small_model()
    before = weights(model)
    X_default, y_default = data()
    arguments = dict(loss="cross_entropy", optimizer="adam", epochs=2, verbose=0)
    arguments.update(kwargs)
    with pytest.raises(error, match=match):
        model.fit(X_default if X is None else X, y_default if y is None else y, **arguments)
    for old, new in zip(before, weights(model)):
        assert np.array_equal(old, new), "weights changed although fit refused its input"


def test_nan_in_X(xp):
    X, _ = data()
    X[3, 1] = np.nan
    assert_fit_refused(r"fit: X contains 1 NaN and 0 infinite values \(first in sample 3\)", X=X)


def test_inf_in_X(xp):
    X, _ = data()
    X[5, 0] = -np.inf
    assert_fit_refused(r"X contains 0 NaN and 1 infinite", X=X)


def test_nan_in_y_for_regression(xp):
    X, _ = data()
    y = np.ones((12, 3))
    y[2, 2] = np.nan
    assert_fit_refused(r"fit: y contains 1 NaN", X=X, y=y, loss="mse")


def test_empty_X(xp):
    assert_fit_refused(r"fit: X is empty", X=np.zeros((0, 4)), y=np.zeros(0, dtype=int))


def test_one_dimensional_X(xp):
    assert_fit_refused(r"X must have shape \(samples, features\).*reshape", X=np.zeros(12))


def test_X_and_y_lengths_differ(xp):
    X, y = data()
    assert_fit_refused(r"y has 11 samples but X has 12", X=X, y=y[:11])


def test_wrong_feature_count(xp):
    assert_fit_refused(r"X of shape \(12, 5\) does not fit the model.*in_features=4",
                       X=np.zeros((12, 5)))


def test_labels_above_the_model_classes(xp):
    X, y = data()
    y[4] = 3
    assert_fit_refused(r"y has class labels from 0 to 3, but the model has 3 outputs", y=y)


def test_negative_labels(xp):
    X, y = data()
    y[0] = -1
    assert_fit_refused(r"labels must lie in \[0, 2\]", y=y)


def test_fractional_labels(xp):
    X, y = data()
    y = y.astype(float)
    y[1] = 0.5
    assert_fit_refused(r"y holds class labels .* whole numbers", y=y)


def test_binary_targets_outside_0_1(xp):
    model_X = np.zeros((12, 4))
    y = np.full((12, 3), 2.0)
    assert_fit_refused(r"y must hold 0/1 labels or probabilities in \[0, 1\]", X=model_X, y=y,
                       loss="binary_cross_entropy")


def test_target_shape_does_not_match_the_output(xp):
    assert_fit_refused(r"y does not match the model's output for this loss", y=np.zeros((12, 2)), loss="mse")


def test_non_numeric_X(xp):
    assert_fit_refused(r"X cannot be turned into a numeric array", error=TypeError,
                       X=[["a"] * 4] * 12)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_batch_size(xp, batch_size):
    assert_fit_refused(r"fit: batch_size must be a positive int or None", batch_size=batch_size)


@pytest.mark.parametrize("epochs", [-1, 1.5, None])
def test_epochs(xp, epochs):
    assert_fit_refused(r"fit: epochs must be an int >= 0", epochs=epochs)


@pytest.mark.parametrize("split, error, message", [
    (1.0, ValueError, r"must be in \[0, 1\), got 1.0"), (-0.1, ValueError, r"must be in \[0, 1\), got -0.1"),
    (1.5, ValueError, r"must be in \[0, 1\), got 1.5"), (float("nan"), ValueError, "must be finite, got nan"),
    ("0.2", TypeError, "must be a number, got '0.2'"),
])
def test_validation_split_outside_0_1(xp, split, error, message):
    assert_fit_refused(r"fit: validation_split " + message, error=error, validation_split=split)


def test_validation_split_leaving_nothing(xp):
    assert_fit_refused(r"validation_split=0.05 of 12 samples leaves 0 for validation", validation_split=0.05)


def test_validation_data_checked_like_training_data(xp):
    X, y = data()
    X_val = X.copy()
    X_val[0, 0] = np.nan
    assert_fit_refused(r"validation_data\[0\] contains 1 NaN", validation_data=(X_val, y))
    assert_fit_refused(r"validation_data must be a pair", validation_data=X)


def test_unknown_names(xp):
    assert_fit_refused(r"fit: loss: unknown loss 'hinge'", loss="hinge")
    assert_fit_refused(r"fit: optimizer: .*'adamax'", optimizer="adamax")
    assert_fit_refused(r"fit: metrics: unknown metric 'f2'", metrics=("f2",))


def test_missing_optimizer(xp):
    assert_fit_refused(r"fit: optimizer is required", optimizer=None)


def test_callbacks_must_be_callbacks(xp):
    assert_fit_refused(r"callbacks\[0\] must be an xpnn Callback", error=TypeError, callbacks=[print])


def test_verbose(xp):
    assert_fit_refused(r"verbose must be 0", verbose=3)


def test_early_stopping_on_val_loss_without_validation(xp):
    assert_fit_refused(r"EarlyStopping: monitor='val_loss' needs validation data",
                       callbacks=[xpnn.EarlyStopping(patience=1)])


def test_resume_from_a_missing_file(xp, tmp_path):
    assert_fit_refused(r"no such file", error=FileNotFoundError, resume_from=tmp_path / "none.npz")


def test_predict_checks_its_input(xp):
    model = small_model()
    with pytest.raises(ValueError, match=r"predict: X contains 1 NaN"):
        model.predict(np.array([[1.0, np.nan, 0.0, 0.0]]))
    with pytest.raises(ValueError, match=r"predict: X is empty"):
        model.predict(np.zeros((0, 4)))
    with pytest.raises(ValueError, match=r"predict: X of shape \(2, 3\) does not fit the model"):
        model.predict(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"predict: batch_size must be a positive int"):
        model.predict(np.zeros((2, 4)), batch_size=0)


def test_evaluate_checks_its_input(xp):
    model = small_model()
    X, y = data()
    with pytest.raises(ValueError, match=r"evaluate: loss is required"):
        model.evaluate(X, y)
    y[0] = 7
    with pytest.raises(ValueError, match=r"evaluate: y has class labels from 0 to 7"):
        model.evaluate(X, y, loss="cross_entropy")


def test_a_last_batch_of_one_sample_with_batchnorm(xp):
    model = xpnn.Model(xpnn.Dense(4, 8), xpnn.BatchNorm(8), xpnn.Dense(8, 3))
    X, y = data(13)
    with pytest.raises(ValueError, match=r"batch_size=4 leaves a last batch of 1 sample out of 13"):
        model.fit(X, y, loss="cross_entropy", optimizer="adam", batch_size=4, verbose=0)
    model.fit(X, y, loss="cross_entropy", optimizer="adam", batch_size=5, verbose=0)


def test_a_batch_smaller_than_a_layer_needs_is_refused_before_training(xp):
    model = xpnn.Model(xpnn.Dense(4, 8), xpnn.BatchNorm(8), xpnn.Dense(8, 3))
    X, y = data(13)
    with pytest.raises(ValueError, match=r"batch_size=1 gives batches of 1, and BatchNorm needs at least 2 per batch"):
        model.fit(X, y, loss="cross_entropy", optimizer="adam", batch_size=1, verbose=0)

    class NeedsThree(xpnn.Layer):  # any layer can declare it, not only BatchNorm
        min_training_batch = 3

        def forward(self, x, training=True):
            return x, lambda dout: dout

    with pytest.raises(ValueError, match=r"leaves a last batch of 2 samples out of 12 training samples, and NeedsThree"):
        xpnn.Model(xpnn.Dense(4, 3), NeedsThree()).fit(X[:12], y[:12], loss="cross_entropy", optimizer="adam",
                                                        batch_size=5, verbose=0)


def test_fit_leaves_the_users_loss_as_it_was(xp):
    """fit steps with an unchecked copy of the loss: the object handed in is never changed."""
    loss = xpnn.CrossEntropy()
    X, y = data(12)
    model = small_model()
    model.fit(X, y, loss=loss, optimizer="adam", epochs=1, verbose=0)
    assert loss.validate is True and model.loss is loss
    copy = loss.unchecked()
    assert copy is not loss and copy.validate is False and loss.validate is True


@pytest.mark.parametrize("argument, value, match", [
    ("loss", 5, "fit: loss: loss must be a name, a loss class or a loss object, got int"),
    ("optimizer", 5, "fit: optimizer: optimizer must be a name, an optimizer class or an optimizer object, got int"),
])
def test_a_loss_or_optimizer_of_the_wrong_type_is_named(xp, argument, value, match):
    assert_fit_refused(match, error=TypeError, **{argument: value})


def test_callback_arguments_are_checked_when_made():
    with pytest.raises(ValueError, match="EarlyStopping: start_from_epoch must be an int >= 0, got -1"):
        xpnn.EarlyStopping(start_from_epoch=-1)
    with pytest.raises(TypeError, match="EarlyStopping: baseline must be a number, got 'low'"):
        xpnn.EarlyStopping(baseline="low")
    with pytest.raises(TypeError, match="EarlyStopping: monitor must be a non-empty str naming a logged value"):
        xpnn.EarlyStopping(monitor=3)
    with pytest.raises(TypeError, match="ModelCheckpoint: monitor must be a non-empty str naming a logged value"):
        xpnn.ModelCheckpoint("x.ckpt", monitor="")


# ---------------------------------------------------------------- issue 18, items 6 and 7

@pytest.mark.parametrize("rows, message", [
    # the case: negated one-hot rows trained to a loss of -1.37
    (lambda labels: -np.eye(3)[labels], r"fit: y holds probability rows for cross-entropy, so its values must lie in \[0, 1\]"),
    (lambda labels: 0.5 * np.eye(3)[labels], r"fit: y holds probability rows .* each row must sum to 1; row 0 sums to 0.5"),
    (lambda labels: np.full((len(labels), 3), 0.4), r"row 0 sums to 1.2"),
])
def test_probability_targets_for_cross_entropy_are_checked(xp, rows, message):
    _, labels = data()
    assert_fit_refused(message, y=rows(labels))


def test_smoothed_probability_rows_are_accepted(xp):
    X, labels = data()
    rows = np.eye(3)[labels] * 0.9 + 0.1 / 3
    small_model().fit(X, rows.astype("float32"), loss="cross_entropy", optimizer="sgd", verbose=0)


@pytest.mark.parametrize("where", ["X", "y"])
def test_values_that_overflow_float32_are_named_as_such(xp, where):
    """1e39 is finite in float64 and infinite in the model's float32: the check runs after the
    cast, and says the value overflows (the issue: y = 1e39 passed, and NaN weights followed)."""
    X, _ = data()
    y = np.ones((12, 3))
    (X if where == "X" else y)[4, 1] = 1e39
    with _no_warnings():
        assert_fit_refused(rf"fit: {where} has values too large for float32 \(they overflow to infinity; its largest "
                           r"finite value is 3.403e\+38\); scale them first", X=X, y=y, loss="mse")


class _no_warnings:
    """NumPy's own 'overflow encountered in cast' warning must not come before the error."""

    def __enter__(self):
        import warnings

        self._catcher = warnings.catch_warnings()
        self._catcher.__enter__()
        warnings.simplefilter("error")

    def __exit__(self, *exc):
        return self._catcher.__exit__(*exc)
