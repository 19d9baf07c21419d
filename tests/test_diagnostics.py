"""Training-health diagnostics: layer descriptions, activations capture, the TrainingMonitor
and its warnings, fit's stop on non-finite values (issue 14)."""

import numpy as np
import pytest

import xpnn
from xpnn.diagnostics import activations, layer_descriptions
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
