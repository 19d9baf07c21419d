import numpy as np
import pytest

import xpnn
from xpnn.nn.layer import layer_config, layer_from_config
from xpnn.nn.layers.normalization import LayerNorm
from xpnn.nn.layers.residual import Residual
from xpnn.testing import assert_close, check_backends, gradcheck

from .helpers import host_normal, on_backend


def test_output_is_x_plus_block_of_x(xp):
    block = xpnn.Dense(4, 4, activation="tanh").astype("float64")
    x = on_backend(host_normal(3, 4))
    out, backward = Residual(block).forward(x)
    assert_close(out, xpnn.to_numpy(x) + xpnn.to_numpy(block(x)))
    # backward = dout through the skip + dout through the block
    dout = on_backend(host_normal(3, 4, seed=1))
    block_dx = block.forward(x)[1](dout)
    assert_close(backward(dout), xpnn.to_numpy(dout) + xpnn.to_numpy(block_dx))


def test_gradcheck_with_a_dense_block(xp):
    assert gradcheck(Residual(xpnn.Dense(4, 4, activation="tanh")), on_backend(host_normal(5, 4)))


def test_gradcheck_with_a_sequential_block(xp):
    block = xpnn.Sequential(xpnn.Dense(4, 6, activation="tanh"), xpnn.Dense(6, 4), LayerNorm(4))
    assert gradcheck(Residual(block), on_backend(host_normal(3, 4)))


def test_parameters_are_the_blocks():
    block = xpnn.Dense(2, 2)
    names = [name for name, _ in Residual(block).named_parameters()]
    assert names == ["block.weight", "block.bias"]


def test_agrees_across_backends(other_backend):
    make = lambda: Residual(xpnn.Dense(3, 3, activation="relu"))  # noqa: E731
    check_backends(make, host_normal(4, 3), backends=[other_backend])


def test_config_round_trip(xp):
    layer = Residual(xpnn.Sequential(xpnn.Dense(3, 5, activation="relu"), xpnn.Dense(5, 3)))
    rebuilt = layer_from_config(layer_config(layer))
    assert isinstance(rebuilt, Residual)
    assert layer_config(rebuilt) == layer_config(layer)
    assert layer_config(layer)["config"]["block"]["class"] == "Sequential"


def test_block_that_changes_the_shape(xp):
    message = r"Residual: the block's output has shape \(2, 3\) but x has shape \(2, 4\)"
    with pytest.raises(ValueError, match=message):
        Residual(xpnn.Dense(4, 3)).forward(on_backend(np.ones((2, 4)), dtype="float32"))


def test_block_must_be_a_layer():
    with pytest.raises(TypeError, match="Residual: block must be an xpnn Layer, got function"):
        Residual(lambda x: x)


def test_input_must_be_an_array():
    with pytest.raises(TypeError, match="x must be an array"):
        Residual(xpnn.Dense(2, 2)).forward([[1.0, 2.0]])


def test_config_without_block():
    with pytest.raises(ValueError, match="Residual: config needs a 'block' entry"):
        Residual.from_config({})
