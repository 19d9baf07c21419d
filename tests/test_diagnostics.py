"""Training-health diagnostics: layer descriptions, activations capture, the TrainingMonitor
and its warnings, fit's stop on non-finite values (issue 14)."""

import warnings

import numpy as np
import pytest

import xpnn
from xpnn.diagnostics import TrainingMonitor, activations, layer_descriptions
from xpnn.testing import assert_close

from .helpers import host_normal


def small_cnn():
    return xpnn.Model(
        xpnn.Conv2D(1, 8, 3, activation="relu", rng=0), xpnn.MaxPool2D(2), xpnn.Flatten(),
        xpnn.Dropout(0.5, seed=1), xpnn.Dense(32, 3, rng=2),
    )


# ---------------------------------------------------------------- descriptions and activations

def test_layer_descriptions_name_sizes_and_activations():
    model = xpnn.Model(
        xpnn.Dense(32, 32, activation="sigmoid"), xpnn.Dropout(0.5), xpnn.BatchNorm(32), xpnn.ReLU(),
        xpnn.Dense(32, 4),
    )
    assert layer_descriptions(model) == [
        "Dense 32->32, sigmoid", "Dropout 0.5", "BatchNorm 32", "ReLU", "Dense 32->4"]
    assert layer_descriptions(small_cnn()) == [
        "Conv2D 1->8 3x3, relu", "MaxPool2D 2x2", "Flatten", "Dropout 0.5", "Dense 32->3"]
    # a single layer that is not a Sequential is one item
    assert layer_descriptions(xpnn.Dense(3, 2, activation="tanh")) == ["Dense 3->2, tanh"]
    assert layer_descriptions(xpnn.Model(xpnn.Sequential(xpnn.Dense(2, 2), xpnn.ReLU()))) == [
        "Sequential (2 layers)"]


def test_activations_are_each_top_level_layers_output(xp):
    model = xpnn.Model(xpnn.Dense(4, 5, activation="relu", rng=0), xpnn.Dense(5, 3, activation="tanh", rng=1),
                       xpnn.Dense(3, 2, rng=2))
    X = host_normal(6, 4).astype(np.float32)  # host data is moved in, as predict does
    outs = activations(model, X)
    assert len(outs) == 3
    x = xpnn.asarray(X)
    for layer, out in zip(model.layers, outs):
        x = layer(x)
        assert_close(out, x)
        assert xpnn.backend.namespace_of(out=out) is xpnn.backend.namespace_of(x=x)
    assert_close(outs[-1], model.predict(X))


def test_activations_leave_the_model_unchanged_in_training_mode(xp):
    model = xpnn.Model(xpnn.Dense(4, 6, rng=0), xpnn.BatchNorm(6), xpnn.Dropout(0.5, seed=3),
                       xpnn.Dense(6, 2, rng=1))
    X = host_normal(8, 4).astype(np.float32)
    weights_before = model.get_weights()
    first = activations(model, X, training=True)
    second = activations(model, X, training=True)  # the same masks: the stream was put back
    for a, b in zip(first, second):
        assert_close(a, b)
    for before, after in zip(weights_before, model.get_weights()):  # BatchNorm's running stats too
        np.testing.assert_array_equal(before, after)
    dropped = xpnn.to_numpy(first[2])
    assert (dropped == 0).any() and not (xpnn.to_numpy(first[1]) == 0).any()
    assert set(vars(model)) == set(vars(xpnn.Model(xpnn.Dense(1, 1))))  # no attribute left behind
    # the model used twice in a row gives the inference outputs it gave before
    assert_close(activations(model, X)[-1], model.predict(X))


def test_activations_of_a_cnn_keep_the_image_axes():
    outs = activations(small_cnn(), host_normal(2, 1, 6, 6).astype(np.float32))
    assert [tuple(o.shape) for o in outs] == [(2, 8, 4, 4), (2, 8, 2, 2), (2, 32), (2, 32), (2, 3)]


@pytest.mark.parametrize("X, error, words", [
    (None, TypeError, "activations: X is required"),
    ([["a", "b"]], TypeError, "activations: X"),
    (np.zeros(4, dtype=np.float32), ValueError, "activations: X must have shape (samples, features)"),
    (np.zeros((2, 5), dtype=np.float32), ValueError, "activations: X of shape (2, 5) does not fit the model"),
    (np.array([[np.nan, 1, 2, 3]]), ValueError, "activations: X contains 1 NaN"),
])
def test_activations_name_a_bad_X(X, error, words):
    model = xpnn.Model(xpnn.Dense(4, 2))
    with pytest.raises(error) as caught:
        activations(model, X)
    assert words in str(caught.value)


def test_activations_and_descriptions_refuse_what_is_not_a_model():
    with pytest.raises(TypeError, match="activations: model must be an xpnn Layer"):
        activations("model", np.zeros((1, 2)))
    with pytest.raises(TypeError, match="layer_descriptions: model must be an xpnn Layer"):
        layer_descriptions([xpnn.Dense(2, 2)])
    with pytest.raises(TypeError, match="activations: training must be True or False"):
        activations(xpnn.Dense(2, 2), np.zeros((1, 2)), training=1)


def test_diagnostics_is_a_module_name():
    import xpnn.diagnostics as module

    assert module is xpnn.diagnostics is xpnn.training.diagnostics
    assert module.activations is activations


# ---------------------------------------------------------------- the monitor's warnings

def classes(n=256, features=16, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features)).astype(np.float32)
    return X, (X[:, 0] + X[:, 1] > 0).astype(np.int64)


def monitored_fit(model, *, optimizer="sgd", epochs=1, **monitor_args):
    """fit with a silent monitor; returns (monitor, history)."""
    X, y = classes(features=model.layers[0].in_features)
    monitor = TrainingMonitor(verbose=0, **monitor_args)
    history = model.fit(X, y, loss="cross_entropy", optimizer=optimizer, epochs=epochs, batch_size=32,
                        callbacks=[monitor], verbose=0)
    return monitor, history


def found(monitor, kind):
    return sorted({problem.layer.index for problem in monitor.problems if problem.kind == kind})


def test_a_deep_sigmoid_network_has_vanishing_gradients_in_its_first_layers():
    model = xpnn.Model(*[xpnn.Dense(16 if i == 0 else 32, 32, activation="sigmoid") for i in range(10)],
                       xpnn.Dense(32, 2))
    monitor, history = monitored_fit(model)
    ratios = history.diagnostics["grad_ratio"][0]
    assert ratios[0] < 1e-5 < ratios[8] and ratios[10] == 1.0  # shrinks towards the input
    assert found(monitor, "vanishing_gradient") == [i for i in range(11) if ratios[i] < 1e-3]
    assert 0 in found(monitor, "vanishing_gradient") and 9 not in found(monitor, "vanishing_gradient")
    assert {p.kind for p in monitor.problems} == {"vanishing_gradient"}
    problem = monitor.problems[0]
    assert problem.layer == (0, "Dense 16->32, sigmoid") and problem.epoch == 0
    assert str(problem).startswith(f"epoch 1: layer 0 (Dense 16->32, sigmoid): gradient norm is "
                                   f"{ratios[0]:.1g} of the output layer's: vanishing gradients; use ReLU")


def test_too_large_weights_give_exploding_gradients():
    model = xpnn.Model(*[xpnn.Dense(16 if i == 0 else 32, 32, activation="relu") for i in range(8)],
                       xpnn.Dense(32, 2))
    for layer in model.layers:  # 3 times He's scale: every layer multiplies the signal by about 3
        layer.weight.value = layer.weight.value * 3
    monitor, history = monitored_fit(model, optimizer=xpnn.SGD(lr=1e-9))
    norms = history.diagnostics["grad_norm"][0]
    assert found(monitor, "exploding_gradient") == [i for i in range(9) if norms[i] > 1e3] and min(norms) > 1e3
    # a gradient far larger than the output layer's, with a norm below exploding_norm
    model = xpnn.Model(xpnn.Dense(16, 32, activation="tanh"), xpnn.Dense(32, 2))
    model.layers[0].weight.value = model.layers[0].weight.value * 0.001
    model.layers[1].weight.value = model.layers[1].weight.value * 100
    monitor, history = monitored_fit(model, optimizer=xpnn.SGD(lr=1e-9), exploding_ratio=100)
    assert history.diagnostics["grad_ratio"][0][0] > 100 and found(monitor, "exploding_gradient") == [0]
    assert "times the output layer's: exploding gradients" in str(monitor.problems[0])


def test_a_large_negative_bias_kills_relu_units():
    model = xpnn.Model(xpnn.Dense(16, 32, activation="relu"), xpnn.Dense(32, 32, activation="relu"),
                       xpnn.Dense(32, 2))
    model.layers[1].bias.value = model.layers[1].bias.value - 10
    monitor, history = monitored_fit(model)
    dead = history.diagnostics["dead_fraction"][0]
    assert dead[1] == 1.0 and dead[0] < 0.5 and np.isnan(dead[2])
    assert found(monitor, "dead_units") == [1]
    assert {p.kind for p in monitor.problems} == {"dead_units"}  # not also "vanishing" below them
    assert "100% of its units output 0 on every sample of the epoch: dying ReLUs" in str(monitor.problems[0])


def test_dead_channels_of_a_convolution():
    model = xpnn.Model(xpnn.Conv2D(1, 4, 3, activation="relu", rng=0), xpnn.Flatten(), xpnn.Dense(64, 2, rng=1))
    bias = xpnn.to_numpy(model.layers[0].bias.value).copy()
    bias[:3] = -100.0  # three of the four channels never fire
    model.layers[0].bias.value = xpnn.asarray(bias)
    X = host_normal(16, 1, 6, 6).astype(np.float32)
    monitor = TrainingMonitor(verbose=0)
    history = model.fit(X, np.arange(16) % 2, loss="cross_entropy", optimizer="sgd", callbacks=[monitor],
                        verbose=0)
    assert history.diagnostics["dead_fraction"][0][0] == 0.75 and found(monitor, "dead_units") == [0]


def test_huge_weights_saturate_sigmoid_units():
    model = xpnn.Model(xpnn.Dense(16, 32, activation="sigmoid"), xpnn.Dense(32, 2))
    model.layers[0].weight.value = model.layers[0].weight.value * 20
    monitor, history = monitored_fit(model, every=1)
    assert history.diagnostics["saturated_fraction"][0][0] > 0.5 and found(monitor, "saturation") == [0]
    assert {p.kind for p in monitor.problems} == {"saturation"}


def test_warnings_are_raised_once_per_kind_and_layer_and_epoch_and_not_with_verbose_0():
    X, y = classes()

    def model():
        xpnn.set_seed(0)
        m = xpnn.Model(xpnn.Dense(16, 32, activation="sigmoid"), xpnn.Dense(32, 2))
        m.layers[0].weight.value = m.layers[0].weight.value * 20
        return m

    with pytest.warns(xpnn.TrainingHealthWarning) as caught:
        model().fit(X, y, loss="cross_entropy", optimizer="sgd", epochs=3, callbacks=[TrainingMonitor()],
                    verbose=0)
    health = [w.message for w in caught if isinstance(w.message, xpnn.TrainingHealthWarning)]
    assert [(w.kind, w.layer.index, w.epoch) for w in health] == [("saturation", 0, e) for e in range(3)]
    assert issubclass(xpnn.TrainingHealthWarning, UserWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error", xpnn.TrainingHealthWarning)
        silent = TrainingMonitor(verbose=0)
        history = model().fit(X, y, loss="cross_entropy", optimizer="sgd", epochs=3, callbacks=[silent], verbose=0)
    assert len(silent.problems) == 3 and len(history.diagnostics["epoch"]) == 3


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_a_healthy_network_raises_no_warning(activation):
    X, y = classes()
    model = xpnn.Model(xpnn.Dense(16, 32, activation=activation), xpnn.Dense(32, 32, activation=activation),
                       xpnn.Dense(32, 2))
    monitor = TrainingMonitor(every=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", xpnn.TrainingHealthWarning)
        history = model.fit(X, y, loss="cross_entropy", optimizer=xpnn.Adam(lr=0.01), epochs=3, batch_size=32,
                            callbacks=[monitor], validation_split=0.2, verbose=0)
    assert monitor.problems == [] and history.diagnostics["epoch"] == [0, 1, 2]
    assert history.history["val_accuracy"][-1] > 0.8  # it really is healthy
