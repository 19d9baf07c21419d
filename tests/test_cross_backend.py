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


# float32 values and derivatives of each elementwise activation, compared element by element
# with a tolerance derived from its condition number (xpnn.testing.elementwise_tolerance),
# not one rtol for all: a GPU's exp/tanh/erf round differently from NumPy's by an ulp or two,
# and that difference is worth more where the function is ill-conditioned.
ELEMENTWISE_FUNCTIONS = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "silu",
                         "softplus", "mish", "hard_sigmoid", "hard_tanh", "gaussian", "step")
GRID = np.concatenate([np.linspace(-12, 12, 241), [-1e-3, -1e-6, 0.0, 1e-6, 1e-3, 30.0, -30.0, 80.0, -80.0]])


def _slope(function, z):
    """f'(z) elementwise, through the vector-Jacobian product (identity and step define no
    ``derivative``)."""
    return function.vjp(z, xpnn.backend.namespace_of(z=z).ones_like(z))


def _second_derivative(function, x):
    """f'' by central differences of f' in float64 (kinks give large but harmless values)."""
    h = 1e-4 * np.maximum(1.0, np.abs(x))
    above = xpnn.to_numpy(_slope(function, xpnn.asarray(x + h, dtype="float64")))
    below = xpnn.to_numpy(_slope(function, xpnn.asarray(x - h, dtype="float64")))
    return (above - below) / (2 * h)


@pytest.mark.parametrize("name", ELEMENTWISE_FUNCTIONS)
def test_float32_activations_agree_to_their_condition_number(other_backend, name):
    from xpnn.testing import elementwise_tolerance

    function = getattr(act, name)
    with xpnn.use_backend("numpy"):
        x64 = xpnn.asarray(GRID, dtype="float64")
        value64, slope64 = xpnn.to_numpy(function(x64)), xpnn.to_numpy(_slope(function, x64))
        curvature64 = _second_derivative(function, GRID)
        x32 = xpnn.asarray(GRID, dtype="float32")
        expected = [xpnn.to_numpy(function(x32)), xpnn.to_numpy(_slope(function, x32))]
    with xpnn.use_backend(other_backend):
        x32 = xpnn.asarray(GRID, dtype="float32")
        got = [xpnn.to_numpy(function(x32)), xpnn.to_numpy(_slope(function, x32))]
    allowed = [elementwise_tolerance(GRID, value64, slope64, computed=expected[0]),
               elementwise_tolerance(GRID, slope64, curvature64, computed=expected[1])]
    for label, a, b, tolerance in zip(("value", "derivative"), got, expected, allowed):
        assert a.dtype == b.dtype == np.float32
        worst = np.argmax(np.abs(a.astype(np.float64) - b) / tolerance)
        assert np.all(np.abs(a.astype(np.float64) - b) <= tolerance), (
            f"{name} {label} at x={GRID[worst]}: {other_backend} {a[worst]!r}, numpy {b[worst]!r}, "
            f"allowed {tolerance[worst]:.3g}")


def test_the_derived_tolerance_is_an_ulp_scale_not_a_blanket_one():
    from xpnn.testing import elementwise_tolerance

    eps = np.finfo(np.float32).eps
    x = np.array([0.0, 1.0, 10.0])
    # exp: f = f' = e^x, condition number x: the allowance grows with x, in ulps of the value
    allowed = elementwise_tolerance(x, np.exp(x), np.exp(x))
    np.testing.assert_allclose(allowed / (eps * np.exp(x)), [4.0, 8.0, 44.0], rtol=1e-6)
    # a well-conditioned value of size 1 gets a few ulps, far below rtol 1e-5
    assert elementwise_tolerance(np.array([1.0]), np.array([1.0]), np.array([0.0]))[0] < 1e-6
    # where the float32 formula cancels, its measured error (doubled) is allowed on top
    value = np.array([6.1e-6])
    assert elementwise_tolerance(np.array([12.0]), value, np.array([0.0]), computed=value + 6e-8)[0] >= 1.2e-7
