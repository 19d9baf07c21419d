"""Freezing: a frozen layer gets no parameter gradients, yet passes gradients through."""

import numpy as np

import xpnn
from xpnn.testing import assert_close

from .helpers import host_normal, on_backend


def gradients(model, x, dout):
    model.zero_grad()
    dx = model.forward(x)[1](dout)
    return dx, {name: None if p.grad is None else xpnn.to_numpy(p.grad).copy()
                for name, p in model.named_parameters()}


def test_freezing_the_second_layer(xp):
    first, second = xpnn.Dense(3, 4, activation="leaky_relu"), xpnn.Dense(4, 2)
    model = xpnn.Sequential(first, second).astype("float64")
    x, dout = on_backend(host_normal(5, 3)), on_backend(host_normal(5, 2, seed=1))
    dx_free, free = gradients(model, x, dout)

    assert second.freeze() is second
    assert [p.trainable for p in model.parameters()] == [True, True, False, False]
    dx_frozen, frozen = gradients(model, x, dout)
    assert frozen["layers.1.weight"] is None and frozen["layers.1.bias"] is None
    for name in ("layers.0.weight", "layers.0.bias"):  # gradients flowed through the frozen layer
        assert_close(frozen[name], free[name])
    assert_close(dx_frozen, dx_free)

    second.unfreeze()
    _, again = gradients(model, x, dout)
    for name, grad in free.items():
        assert_close(again[name], grad)


def test_freezing_a_whole_model_still_gives_the_input_gradient(xp):
    model = xpnn.Sequential(xpnn.Dense(3, 4, activation="tanh"), xpnn.Dense(4, 2)).astype("float64")
    x, dout = on_backend(host_normal(5, 3)), on_backend(host_normal(5, 2, seed=1))
    dx_free, _ = gradients(model, x, dout)
    model.freeze()
    dx, grads = gradients(model, x, dout)
    assert all(grad is None for grad in grads.values())
    assert_close(dx, dx_free)


def test_frozen_normalization_and_residual_layers(xp):
    from xpnn.nn.layers.normalization import BatchNorm, LayerNorm
    from xpnn.nn.layers.residual import Residual

    model = xpnn.Sequential(
        xpnn.Dense(3, 4), BatchNorm(4), Residual(xpnn.Dense(4, 4, activation="tanh")), LayerNorm(4),
    ).astype("float64")
    x, dout = on_backend(host_normal(6, 3)), on_backend(host_normal(6, 4, seed=1))
    _, free = gradients(model, x, dout)
    for layer in model.layers[1:]:
        layer.freeze()
    _, frozen = gradients(model, x, dout)
    trained = [name for name, grad in frozen.items() if grad is not None]
    assert trained == ["layers.0.weight", "layers.0.bias"]
    assert_close(frozen["layers.0.weight"], free["layers.0.weight"])
    assert np.any(free["layers.1.gamma"] != 0)
