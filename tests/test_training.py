"""The fit loop: gradient descent (batch, stochastic, mini-batch), its history, validation and callbacks."""

import math
import warnings

import numpy as np
import pytest

import xpnn
from xpnn import schedules
from xpnn.testing import assert_close


def linear_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = X @ np.array([[1.5], [-2.0], [0.5]]) + 0.25
    return X, y


def blobs(n=90, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    centres = np.array([[0.0, 3.0], [3.0, -1.0], [-3.0, -1.0]])
    return centres[labels] + rng.normal(scale=0.7, size=(n, 2)), labels


def classifier(*extra):
    return xpnn.Model(xpnn.Dense(2, 16, activation="tanh"), *extra, xpnn.Dense(16, 3))


def test_full_batch_fit_is_plain_gradient_descent(xp):
    """batch_size=None, shuffle=False: each epoch is one step w -= lr * dL/dw, done by hand here."""
    X, y = linear_data(16)
    model = xpnn.Model(xpnn.Dense(3, 1)).astype("float64")
    w, b = xpnn.to_numpy(model[0].weight.value).copy(), xpnn.to_numpy(model[0].bias.value).copy()
    model.fit(X, y, loss="mse", optimizer=xpnn.SGD(lr=0.1), epochs=3, batch_size=None,
              shuffle=False, verbose=0)
    for _ in range(3):
        delta = 2 * (X @ w + b - y) / y.size  # d mean((Xw+b-y)^2) / d prediction
        w, b = w - 0.1 * X.T @ delta, b - 0.1 * delta.sum(axis=0)
    assert_close(model[0].weight.value, w, rtol=1e-12)
    assert_close(model[0].bias.value, b, rtol=1e-12)


@pytest.mark.parametrize("batch_size", [None, 1, 8], ids=["batch", "stochastic", "mini-batch"])
def test_every_flavour_of_gradient_descent_finds_least_squares(xp, batch_size):
    X, y = linear_data()
    model = xpnn.Model(xpnn.Dense(3, 1)).astype("float64")
    lr = 0.3 if batch_size is None else 0.02
    history = model.fit(X, y, loss="mse", optimizer=xpnn.SGD(lr=lr), epochs=150,
                        batch_size=batch_size, verbose=0, seed=0)
    assert history.history["loss"][-1] < 1e-8
    assert_close(model[0].weight.value, [[1.5], [-2.0], [0.5]], atol=1e-4)
    assert list(history.history) == ["loss"]  # regression: no accuracy by default


def test_history_records_every_epoch_and_validation(xp):
    X, y = blobs()
    model = classifier()
    history = model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=4, verbose=0,
                        validation_split=0.2, seed=1)
    assert history.epoch == [0, 1, 2, 3] and model.history is history
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 4 for values in history.history.values())
    assert history["loss"] is history.history["loss"]
    # the held-out samples are the LAST 20% and the logged value is their loss after the epoch
    final = model.evaluate(X[-18:], y[-18:])
    assert math.isclose(final["loss"], history["val_loss"][-1], rel_tol=1e-6)
    assert math.isclose(final["accuracy"], history["val_accuracy"][-1])


def test_classifier_learns_and_validation_data_is_used(xp):
    X, y = blobs()
    X_val, y_val = blobs(30, seed=5)
    model = classifier()
    history = model.fit(X, y, loss="cross_entropy", optimizer=xpnn.Adam(lr=0.02), epochs=30,
                        batch_size=16, validation_data=(X_val, y_val), verbose=0, seed=2)
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["val_accuracy"][-1] >= 0.9
    predictions = model.predict(X_val)
    assert tuple(predictions.shape) == (30, 3) and xpnn.backend.backend_name_of(
        xpnn.backend.namespace_of(p=predictions)) == xpnn.backend.name()
    batched = model.predict(X_val, batch_size=7)
    assert_close(batched, predictions, rtol=1e-6, atol=1e-6)


def test_same_seed_same_run(xp):
    X, y = blobs()
    runs = []
    for _ in range(2):
        with xpnn.backend.seeded(3):
            model = classifier(xpnn.Dropout(0.2, seed=4))
        runs.append(model.fit(X, y, loss="cross_entropy", optimizer="sgd", epochs=3, seed=9, verbose=0).history)
    assert runs[0] == runs[1]


def test_metrics_follow_the_loss(xp):
    X, y = blobs()
    binary = (y == 0).astype(float).reshape(-1, 1)
    model = xpnn.Model(xpnn.Dense(2, 1))
    history = model.fit(X, binary, loss="binary_cross_entropy", optimizer="adam", epochs=1, verbose=0)
    assert "binary_accuracy" in history.history
    model = xpnn.Model(xpnn.Dense(3, 1))
    history = model.fit(*linear_data(), loss="mse", optimizer="adam", epochs=1, verbose=0,
                        metrics=("mae", "r2"))
    assert set(history.history) == {"loss", "mae", "r2"}


def test_frozen_layer_never_changes_during_fit(xp):
    X, y = blobs()
    model = classifier()
    model[1].freeze()
    frozen = [xpnn.to_numpy(p.value).copy() for p in model[1].parameters()]
    first = xpnn.to_numpy(model[0].weight.value).copy()
    model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=2, verbose=0)
    for before, p in zip(frozen, model[1].parameters()):
        assert np.array_equal(before, xpnn.to_numpy(p.value))
    assert not np.array_equal(first, xpnn.to_numpy(model[0].weight.value))


def test_batchnorm_and_dropout_train_and_predict_deterministically(xp):
    X, y = blobs()
    model = xpnn.Model(xpnn.Dense(2, 16), xpnn.BatchNorm(16), xpnn.ReLU(), xpnn.Dropout(0.3, seed=0),
                       xpnn.Dense(16, 3))
    model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=20, verbose=0, seed=0)
    assert model.evaluate(X, y)["accuracy"] > 0.9  # inference: running statistics, no dropout
    assert not np.allclose(xpnn.to_numpy(model[1].running_mean.value), 0)
    assert_close(model.predict(X), model.predict(X), rtol=0, atol=0)


def test_early_stopping_stops_and_restores_the_best_weights(xp):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(90, 2)), rng.integers(0, 3, size=90)
    model = xpnn.Model(xpnn.Dense(2, 64, activation="relu"), xpnn.Dense(64, 3))
    stopper = xpnn.EarlyStopping(patience=3)
    # random labels: the model can only memorise, so validation loss soon turns upwards
    history = model.fit(X, y, loss="cross_entropy", optimizer=xpnn.Adam(lr=0.05), epochs=60,
                        validation_split=0.3, callbacks=[stopper], verbose=0, seed=0)
    assert len(history.epoch) < 60 and "EarlyStopping" in history.stop_reason
    best = min(history["val_loss"])
    assert stopper.best == best and history["val_loss"][stopper.best_epoch] == best
    assert math.isclose(model.evaluate(X[-27:], y[-27:])["loss"], best, rel_tol=1e-5)


def test_early_stopping_on_a_training_metric_with_mode(xp):
    X, y = blobs()
    stopper = xpnn.EarlyStopping("accuracy", patience=1, restore_best_weights=False)
    assert stopper.mode == "max"
    classifier().fit(X, y, loss="cross_entropy", optimizer="adam", epochs=3, callbacks=[stopper], verbose=0)
    with pytest.raises(ValueError, match=r"monitor='recall' is not a value this fit logs; it logs 'loss', 'accuracy'"):
        classifier().fit(X, y, loss="cross_entropy", optimizer="adam", epochs=1, verbose=0,
                         callbacks=[xpnn.EarlyStopping("recall")])


def test_learning_rate_scheduler_sets_the_rate_each_epoch(xp):
    X, y = linear_data()
    seen = []
    optimizer = xpnn.SGD(lr=0.1)

    class Record(xpnn.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(self.trainer.optimizer.current_lr)

    halve = xpnn.LearningRateScheduler(lambda epoch, lr: lr if epoch == 0 else lr / 2)
    xpnn.Model(xpnn.Dense(3, 1)).fit(X, y, loss="mse", optimizer=optimizer, epochs=4,
                                     callbacks=[halve, Record()], verbose=0)
    assert seen == [0.1, 0.05, 0.025, 0.0125]
    step = xpnn.LearningRateScheduler(schedules.StepDecay(1.0, factor=0.1, every=2))
    seen.clear()
    xpnn.Model(xpnn.Dense(3, 1)).fit(X, y, loss="mse", optimizer="sgd", epochs=3,
                                     callbacks=[step, Record()], verbose=0)
    assert np.allclose(seen, [1.0, 1.0, 0.1])


def test_a_schedule_as_lr_follows_the_epochs(xp):
    X, y = linear_data()
    optimizer = xpnn.SGD(lr=schedules.ExponentialDecay(0.1, k=0.5))
    xpnn.Model(xpnn.Dense(3, 1)).fit(X, y, loss="mse", optimizer=optimizer, epochs=3, verbose=0)
    assert math.isclose(optimizer.current_lr, 0.1 * math.exp(-0.5 * 3))


def test_reduce_on_plateau_lowers_the_rate(xp):
    X, y = blobs()
    plateau = schedules.ReduceOnPlateau(1.0, monitor="loss", patience=0, factor=0.5, min_delta=10.0)
    optimizer = xpnn.SGD(lr=plateau)
    classifier().fit(X, y, loss="cross_entropy", optimizer=optimizer, epochs=3, verbose=0)
    assert optimizer.current_lr < 1.0


@pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value encountered")
def test_terminate_on_nan_keeps_the_last_finite_weights(xp):
    X, y = linear_data()
    y = y * 1e3
    model = xpnn.Model(xpnn.Dense(3, 1))
    with pytest.warns(RuntimeWarning, match=r"TerminateOnNaN: loss=(nan|inf) in epoch \d+"):
        history = model.fit(X, y, loss="mse", optimizer=xpnn.SGD(lr=10.0), epochs=100,
                            callbacks=[xpnn.TerminateOnNaN()], verbose=0)
    assert "TerminateOnNaN" in history.stop_reason and len(history.epoch) < 100
    assert all(np.all(np.isfinite(xpnn.to_numpy(p.value))) for p in model.parameters())


def test_progress_bar_and_silence(xp, capsys):
    X, y = blobs()
    classifier().fit(X, y, loss="cross_entropy", optimizer="adam", epochs=2, verbose=0)
    assert capsys.readouterr() == ("", "")
    for verbose in (1, 2):  # captured output is no terminal: the same plain lines, no bar
        classifier().fit(X, y, loss="cross_entropy", optimizer="adam", epochs=2, verbose=verbose)
        out, err = capsys.readouterr()
        lines = out.splitlines()
        assert err == "" and len(lines) == 3 and lines[1].startswith("Epoch 2/2 - ")
        assert " - loss: " in lines[1] and lines[2] == "Finished: reached the last epoch, 2/2"


def test_data_already_on_the_backend_is_used_in_place(xp):
    from xpnn.training import data

    X = xpnn.asarray(np.ones((4, 3)), dtype="float32")
    assert data.features(X, "X", "fit", X.dtype) is X


def test_zero_epochs_trains_nothing(xp):
    model = classifier()
    before = xpnn.to_numpy(model[0].weight.value).copy()
    history = model.fit(*blobs(), loss="cross_entropy", optimizer="adam", epochs=0, verbose=0)
    assert history.epoch == [] and np.array_equal(before, xpnn.to_numpy(model[0].weight.value))


def test_no_warning_in_a_normal_run(xp):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        classifier().fit(*blobs(), loss="cross_entropy", optimizer="adam", epochs=1, verbose=0)


class _Recorder(xpnn.Layer):
    """Identity that keeps the first feature of every training batch: the order fit feeds."""

    def __init__(self):
        self.seen = []

    def forward(self, x, training=True):
        if training:
            self.seen.append(xpnn.to_numpy(x[:, 0]).tolist())
        return x, lambda dout: dout


def _epoch_orders(shuffle, seed, epochs=3):
    recorder = _Recorder()
    X = np.arange(12.0).reshape(12, 1)
    model = xpnn.Sequential(recorder, xpnn.Dense(1, 1))
    xpnn.training.fit(model, X, np.zeros(12), loss="mse", optimizer="sgd", epochs=epochs, batch_size=4,
                      shuffle=shuffle, seed=seed, verbose=0)
    per_epoch = [sum(recorder.seen[i:i + 3], []) for i in range(0, 3 * epochs, 3)]
    return [[int(v) for v in order] for order in per_epoch]


def test_every_epoch_is_reshuffled_and_a_seed_repeats_the_orders():
    """Issue 18: reusing one permutation for every epoch passed the whole suite."""
    orders = _epoch_orders(shuffle=True, seed=3)
    assert all(sorted(order) == list(range(12)) for order in orders)  # a permutation of the samples
    assert len({tuple(order) for order in orders}) == 3  # a new one each epoch
    assert orders[0] != list(range(12))
    assert _epoch_orders(shuffle=True, seed=3) == orders
    assert _epoch_orders(shuffle=True, seed=4) != orders
    assert _epoch_orders(shuffle=False, seed=3) == [list(range(12))] * 3
