"""Initialisers: the right moments within sampling error, and bit-identical on every backend."""

import math

import numpy as np
import pytest

import xpnn
from xpnn import init

SHAPE = (400, 600)  # fan_in 400, fan_out 600
N = SHAPE[0] * SHAPE[1]


def draw(initializer, backend_name="numpy", **kwargs):
    with xpnn.use_backend(backend_name):
        return xpnn.to_numpy(initializer(SHAPE, rng=0, **kwargs)).astype(np.float64)


def assert_moments(values, mean, var):
    """Sample mean and variance within 5 standard errors (the variance's, as for a normal
    sample, var sqrt(2/(n-1)): an upper bound for the lighter-tailed uniform)."""
    assert abs(values.mean() - mean) < 5 * math.sqrt(var / values.size)
    assert abs(values.var(ddof=1) - var) < 5 * var * math.sqrt(2 / (values.size - 1))


@pytest.mark.parametrize("name, var", [
    ("xavier_uniform", 2 / 1000), ("xavier_normal", 2 / 1000),
    ("he_uniform", 2 / 400), ("he_normal", 2 / 400), ("lecun_normal", 1 / 400),
])
def test_scaled_initializers_have_the_documented_variance(name, var):
    assert_moments(draw(init.get(name)), 0.0, var)


@pytest.mark.parametrize("name, bound", [
    ("xavier_uniform", math.sqrt(6 / 1000)), ("he_uniform", math.sqrt(6 / 400)),
])
def test_uniform_initializers_stay_within_their_limit(name, bound):
    values = draw(init.get(name))
    assert np.abs(values).max() <= bound + 1e-7  # float32 rounding of the limit
    assert np.abs(values).max() > 0.99 * bound  # and reach close to it


def test_uniform_bounds_and_moments():
    values = draw(init.uniform, low=-0.5, high=1.5)
    assert values.min() >= -0.5 and values.max() < 1.5
    assert_moments(values, 0.5, 2.0 ** 2 / 12)
    assert np.abs(draw(init.uniform)).max() <= 0.05  # default U(-0.05, 0.05)


def test_normal_moments():
    assert_moments(draw(init.normal, mean=1.0, std=0.3), 1.0, 0.09)
    assert_moments(draw(init.normal), 0.0, 0.05 ** 2)  # default N(0, 0.05^2)


def test_zeros_ones_and_constant(xp):
    assert np.all(xpnn.to_numpy(init.zeros((3, 2))) == 0)
    assert np.all(xpnn.to_numpy(init.ones((3, 2))) == 1)
    filled = init.constant(0.25)((2, 3), dtype="float64")
    assert xpnn.to_numpy(filled).dtype == np.float64
    assert xpnn.to_numpy(filled).tolist() == [[0.25] * 3] * 2


INITIALIZERS = ["zeros", "ones", "uniform", "normal", "xavier_uniform", "xavier_normal",
                "he_uniform", "he_normal", "lecun_normal"]


def numpy_reference(name, shape, seed):
    """The initialisers written out with NumPy's Generator alone (fan_in 5, fan_out 4 for
    (5, 4)): what every backend must reproduce bit for bit. The numpy case compares against
    this too, not against itself."""
    draw = np.random.default_rng(seed)
    fan_in, fan_out = shape
    uniform = {"uniform": 0.05, "xavier_uniform": math.sqrt(6 / (fan_in + fan_out)), "he_uniform": math.sqrt(6 / fan_in)}
    normal = {"normal": 0.05, "xavier_normal": math.sqrt(2 / (fan_in + fan_out)), "he_normal": math.sqrt(2 / fan_in),
              "lecun_normal": math.sqrt(1 / fan_in)}
    if name in ("zeros", "ones"):
        values = np.full(shape, 1.0 if name == "ones" else 0.0)
    elif name in uniform:
        values = draw.uniform(-uniform[name], uniform[name], size=shape)
    else:
        values = draw.normal(0.0, normal[name], size=shape)
    return values.astype(np.float32)


@pytest.mark.parametrize("name", INITIALIZERS)
def test_same_seed_gives_bit_identical_weights_on_every_backend(backend_name, name):
    initializer = init.get(name)
    with xpnn.use_backend(backend_name):
        ours = initializer((5, 4), rng=7)
        assert xpnn.backend.backend_name_of(xpnn.backend.namespace_of(w=ours)) == backend_name
    assert xpnn.to_numpy(ours).dtype == np.float32
    assert np.array_equal(xpnn.to_numpy(ours), numpy_reference(name, (5, 4), 7))


def test_library_seed_drives_rng_none():
    xpnn.set_seed(3)
    first = xpnn.to_numpy(init.he_normal((3, 3)))
    xpnn.set_seed(3)
    assert np.array_equal(xpnn.to_numpy(init.he_normal((3, 3))), first)


def test_dtype_argument(xp):
    assert xpnn.to_numpy(init.xavier_normal((3, 2), rng=0, dtype="float64")).dtype == np.float64


def test_fans_of_vectors_and_higher_rank_shapes():
    # a vector counts its length as both fans; (in, out, k...) multiplies by the receptive field
    vector = xpnn.to_numpy(init.he_normal((100_000,), rng=1)).astype(np.float64)
    assert_moments(vector, 0.0, 2 / 100_000)
    kernel = xpnn.to_numpy(init.he_normal((40, 60, 5, 20), rng=1)).astype(np.float64)
    assert_moments(kernel, 0.0, 2 / (40 * 100))


def test_get_by_name_alias_and_callable():
    assert init.get("he_normal") is init.he_normal
    assert init.get("  Xavier_Uniform ") is init.xavier_uniform
    assert init.get("glorot_normal") is init.xavier_normal
    assert init.get("kaiming_uniform") is init.he_uniform
    custom = init.constant(2.0)
    assert init.get(custom) is custom


def test_unknown_initializer():
    with pytest.raises(ValueError, match=r"unknown initializer 'glorot'; valid names: .*he_normal"):
        init.get("glorot")
    for spec in (3, None):
        with pytest.raises(TypeError, match="initializer must be a name or a function, got"):
            init.get(spec)
