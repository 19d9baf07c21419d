"""The design card's promise: the same seed and data give the same numbers on every backend.

Runs unchanged on CPU-only CI (numpy vs array_api_strict) and on a GPU machine (numpy vs cupy).
"""

import numpy as np
import pytest

import xpnn
from xpnn import activations as act
from xpnn.testing import check_backends

from .helpers import host_normal

WIDTH = 6


def every_activation_mlp():
    """A deep MLP with one Dense layer per activation, in a fixed order."""
    layers = [xpnn.Dense(4, WIDTH, activation="step")]  # on the input: only its x-gradient is 0
    for name in ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "selu",
                 "gelu", "silu", "softplus", "mish", "hard_sigmoid", "hard_tanh", "gaussian",
                 "softmax", "log_softmax"):
        layers.append(xpnn.Dense(WIDTH, WIDTH, activation=name))
    layers.append(xpnn.Dense(WIDTH, WIDTH, activation=act.GELU(approximate="tanh")))
    layers.append(xpnn.Dense(WIDTH, 3))
    return xpnn.Sequential(*layers)


X = host_normal(8, 4, seed=11)
TARGETS = {
    "mse": (xpnn.MSE(), host_normal(8, 3, seed=12)),
    "mae": (xpnn.MAE(), host_normal(8, 3, seed=12)),
    "huber": (xpnn.Huber(0.5), host_normal(8, 3, seed=12)),
    "binary_cross_entropy": (xpnn.BinaryCrossEntropy(), (host_normal(8, 3, seed=13) > 0).astype(float)),
    "cross_entropy": (xpnn.CrossEntropy(), np.array([0, 1, 2, 0, 1, 2, 2, 1])),
    "cross_entropy_smoothed": (xpnn.CrossEntropy(label_smoothing=0.1), np.array([0, 1, 2, 0, 1, 2, 2, 1])),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_deep_mlp_with_every_activation_agrees(other_backend, dtype):
    compared = check_backends(every_activation_mlp, X, backends=[other_backend], dtype=dtype)
    assert compared == [other_backend]


@pytest.mark.parametrize("loss_name", sorted(TARGETS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_loss_through_the_deep_mlp_agrees(other_backend, loss_name, dtype):
    loss, target = TARGETS[loss_name]
    check_backends(every_activation_mlp, X, target, loss=loss, backends=[other_backend], dtype=dtype)


def test_losses_alone_agree(other_backend):
    for loss, target in TARGETS.values():
        check_backends(lambda loss=loss: loss, host_normal(8, 3, seed=14), target,
                       backends=[other_backend])


def test_the_check_fails_when_a_backend_computes_something_else(other_backend):
    """A layer that (wrongly) behaves differently off NumPy is caught, naming the quantity."""

    class Drifting(xpnn.Layer):
        def forward(self, x, training=True):
            shift = 0.0 if xpnn.backend.name() == "numpy" else 1e-6
            return x + shift, lambda dout: dout

    with pytest.raises(AssertionError, match=rf"{other_backend} vs numpy, output: mismatch"):
        check_backends(Drifting, X, backends=[other_backend])


def test_the_mlp_really_uses_every_activation():
    names = {type(layer.activation).__name__ for layer in every_activation_mlp()}
    assert len(names) == 19  # 18 activation classes (GELU twice) and NoneType for the output
