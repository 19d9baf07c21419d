import numpy as np
import pytest

import xpnn
from xpnn.testing import assert_close, gradcheck

from .helpers import host_normal, on_backend


def test_forward_is_x_weight_plus_bias_and_backward_is_the_delta_rule(xp):
    layer = xpnn.Dense(3, 2, activation="tanh").astype("float64")
    w, b = xpnn.to_numpy(layer.weight.value), xpnn.to_numpy(layer.bias.value)
    x_host, dout_host = host_normal(4, 3), host_normal(4, 2, seed=1)
    out, backward = layer.forward(on_backend(x_host))
    a = np.tanh(x_host @ w + b)
    assert_close(out, a)
    dx = backward(on_backend(dout_host))
    delta = dout_host * (1 - a ** 2)
    assert_close(layer.weight.grad, x_host.T @ delta)
    assert_close(layer.bias.grad, delta.sum(axis=0))
    assert_close(dx, delta @ w.T)


@pytest.mark.parametrize("activation", [None, "relu", "sigmoid", "softmax", "prelu"])
def test_gradcheck(xp, activation):
    layer = xpnn.Dense(4, 3, activation=activation)
    assert gradcheck(layer, on_backend(host_normal(5, 4)))


def test_without_bias(xp):
    layer = xpnn.Dense(4, 3, bias=False)
    assert layer.bias is None and [p.name for p in layer.parameters()] == ["weight"]
    assert gradcheck(layer, on_backend(host_normal(2, 4)))


def test_gradients_accumulate_and_zero_grad_clears(xp):
    layer = xpnn.Dense(3, 2).astype("float64")
    x, dout = on_backend(host_normal(4, 3)), on_backend(host_normal(4, 2, seed=1))
    layer.forward(x)[1](dout)
    once = xpnn.to_numpy(layer.weight.grad).copy()
    layer.forward(x)[1](dout)
    assert_close(layer.weight.grad, 2 * once)
    layer.zero_grad()
    assert layer.weight.grad is None and layer.bias.grad is None


def test_two_forwards_before_backward_and_shared_layer(xp):
    """No cache on the layer: each closure holds its own input."""
    layer = xpnn.Dense(3, 3, activation="tanh").astype("float64")
    x1, x2 = on_backend(host_normal(2, 3)), on_backend(host_normal(2, 3, seed=5))
    _, back1 = layer.forward(x1)
    _, back2 = layer.forward(x2)
    ones = on_backend(np.ones((2, 3)))
    back2(ones)
    grad_from_x2 = xpnn.to_numpy(layer.weight.grad).copy()
    layer.zero_grad()
    back1(ones)
    w = xpnn.to_numpy(layer.weight.value)
    a1 = np.tanh(host_normal(2, 3) @ w + xpnn.to_numpy(layer.bias.value))
    assert_close(layer.weight.grad, host_normal(2, 3).T @ (1 - a1 ** 2))
    assert not np.allclose(grad_from_x2, xpnn.to_numpy(layer.weight.grad))
    # the same layer twice in one model: gradients from both uses add up
    model = xpnn.Sequential(layer, layer)
    assert len(model.parameters()) == 2
    assert gradcheck(model, x1)


def test_frozen_parameters_get_no_gradient_but_input_gradient_flows(xp):
    first, second = xpnn.Dense(3, 4, activation="relu"), xpnn.Dense(4, 2)
    model = xpnn.Sequential(first, second).astype("float64")
    for p in second.parameters():
        p.trainable = False
    _, backward = model.forward(on_backend(host_normal(5, 3)))
    dx = backward(on_backend(host_normal(5, 2)))
    assert second.weight.grad is None and second.bias.grad is None
    assert first.weight.grad is not None and dx is not None
    assert gradcheck(model, on_backend(host_normal(5, 3)))  # checks only trainable ones


@pytest.mark.parametrize("first", ["dense", "activation", "nested"])
def test_skipping_the_input_gradient_leaves_the_parameter_gradients_unchanged(xp, first):
    """backward_for_parameters, as fit uses it: the first Dense layer computes no dx, and a
    first layer that cannot skip it (here an activation) still gets its backward run."""
    from xpnn.nn.layer import backward_for_parameters

    def model():
        with xpnn.backend.seeded(3):
            layers = [xpnn.Dense(3, 4, activation="tanh"), xpnn.Dense(4, 2)]
        if first == "activation":
            layers.insert(0, xpnn.activations.Tanh())
        if first == "nested":
            layers = [xpnn.Sequential(*layers[:1]), *layers[1:]]
        return xpnn.Sequential(*layers).astype("float64")

    x, dout = on_backend(host_normal(5, 3)), on_backend(host_normal(5, 2, seed=1))
    full, skipping = model(), model()
    out, backward = full.forward(x)
    dx = backward(dout)
    assert tuple(dx.shape) == (5, 3)
    out, backward = skipping.forward(x)
    assert backward_for_parameters(backward, dout) is None
    assert xpnn.Dense(3, 2).astype("float64").forward(x)[1](dout, input_grad=False) is None
    for (name, a), (_, b) in zip(full.named_parameters(), skipping.named_parameters()):
        assert np.array_equal(xpnn.to_numpy(a.grad), xpnn.to_numpy(b.grad)), name


def test_default_init_is_he_for_relu_and_xavier_otherwise():
    rng = np.random.default_rng
    relu = xpnn.to_numpy(xpnn.Dense(400, 300, activation="relu", rng=0).weight.value)
    tanh = xpnn.to_numpy(xpnn.Dense(400, 300, activation="tanh", rng=0).weight.value)
    assert relu.std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    assert tanh.std() == pytest.approx(np.sqrt(2 / 700), rel=0.02)
    bias = xpnn.to_numpy(xpnn.Dense(4, 3, rng=rng(0)).bias.value)
    assert bias.tolist() == [0.0, 0.0, 0.0]
    uniform = xpnn.to_numpy(xpnn.Dense(400, 300, init="xavier_uniform", rng=0).weight.value)
    assert np.abs(uniform).max() <= np.sqrt(6 / 700)


def test_same_seed_gives_bit_identical_weights_on_every_backend(backend_name):
    with xpnn.use_backend(backend_name):
        xpnn.set_seed(7)
        weights = xpnn.to_numpy(xpnn.Dense(5, 4).weight.value)
    with xpnn.use_backend("numpy"):
        xpnn.set_seed(7)
        reference = xpnn.to_numpy(xpnn.Dense(5, 4).weight.value)
    assert weights.dtype == np.float32
    assert np.array_equal(weights, reference)


def test_parameters_are_found_in_a_stable_order():
    model = xpnn.Sequential(xpnn.Dense(2, 3, activation="prelu"), xpnn.Dense(3, 1))
    assert [name for name, _ in model.named_parameters()] == [
        "layers.0.weight", "layers.0.bias", "layers.0.activation.alpha",
        "layers.1.weight", "layers.1.bias",
    ]
    assert repr(model.parameters()[0]) == "Parameter('weight', shape=(2, 3), dtype=float32)"


# ----------------------------------------------------------- bad input

def test_wrong_feature_count(xp):
    with pytest.raises(ValueError, match=r"Dense: x has shape \(2, 5\), expected \(batch, 4\)"):
        xpnn.Dense(4, 3).forward(on_backend(np.ones((2, 5)), dtype="float32"))


def test_one_dimensional_input(xp):
    with pytest.raises(ValueError, match=r"x has shape \(4,\), expected \(batch, 4\)"):
        xpnn.Dense(4, 3).forward(on_backend(np.ones(4), dtype="float32"))


def test_integer_input(xp):
    with pytest.raises(TypeError, match="Dense: x must be a floating-point array, got dtype int64"):
        xpnn.Dense(2, 3).forward(xp.asarray([[1, 2]]))


def test_dtype_mismatch_with_weights(xp):
    with pytest.raises(TypeError, match="x has dtype float64 but the layer's weight has float32"):
        xpnn.Dense(2, 3).forward(on_backend(np.ones((1, 2)), dtype="float64"))


def test_arrays_from_two_backends(other_backend):
    with xpnn.use_backend("numpy"):
        layer = xpnn.Dense(2, 3)
    with xpnn.use_backend(other_backend):
        x = xpnn.asarray(np.ones((1, 2)))
    with pytest.raises(TypeError, match=rf"different backends mixed \(x is {other_backend}, "
                                        r"weight is numpy\)"):
        layer.forward(x)


def test_backward_with_wrongly_shaped_gradient(xp):
    _, backward = xpnn.Dense(2, 3).forward(on_backend(np.ones((4, 2)), dtype="float32"))
    with pytest.raises(ValueError, match=r"dout has shape \(4, 2\), expected the output shape \(4, 3\)"):
        backward(on_backend(np.ones((4, 2)), dtype="float32"))


@pytest.mark.parametrize("args, message", [
    ((0, 3), "in_features must be a positive int, got 0"),
    ((3, -1), "out_features must be a positive int, got -1"),
    ((2.5, 3), "in_features must be a positive int, got 2.5"),
])
def test_bad_sizes(args, message):
    with pytest.raises(ValueError, match=message):
        xpnn.Dense(*args)


def test_unknown_initializer():
    with pytest.raises(ValueError, match=r"unknown initializer 'glorot'.*he_normal"):
        xpnn.Dense(2, 3, init="glorot")


def test_sequential_rejects_non_layers():
    with pytest.raises(TypeError, match="Sequential: layer 1 must be an xpnn Layer, got str"):
        xpnn.Sequential(xpnn.Dense(2, 3), "relu")
