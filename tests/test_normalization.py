import numpy as np
import pytest

import xpnn
from xpnn.nn.layer import layer_config, layer_from_config
from xpnn.nn.layers.normalization import BatchNorm, LayerNorm
from xpnn.testing import assert_close, check_backends, gradcheck

from .helpers import host_normal, on_backend

EPS = 1e-5


def with_affine(layer, seed=3):
    """float64, with gamma and beta away from their trivial starting values."""
    layer.astype("float64")
    size = layer.gamma.shape[0]
    layer.gamma.value = on_backend(1 + host_normal(size, seed=seed, scale=0.5))
    layer.beta.value = on_backend(host_normal(size, seed=seed + 1))
    return layer


def reference(x, axis, gamma=1.0, beta=0.0):
    mean = x.mean(axis=axis, keepdims=True)
    var = x.var(axis=axis, keepdims=True)  # biased, as the layers use
    return (x - mean) / np.sqrt(var + EPS) * gamma + beta


# ----------------------------------------------------------- BatchNorm

def test_batchnorm_training_forward_matches_numpy(xp):
    layer = with_affine(BatchNorm(3))
    x = host_normal(8, 3, scale=2.0) + 5
    out = layer.forward(on_backend(x))[0]
    gamma, beta = xpnn.to_numpy(layer.gamma.value), xpnn.to_numpy(layer.beta.value)
    assert_close(out, reference(x, 0, gamma, beta))


def test_batchnorm_holds_parameters_and_buffers(xp):
    layer = BatchNorm(3)
    names = [name for name, _ in layer.named_state()]
    assert names == ["gamma", "beta", "running_mean", "running_var"]
    assert [p.name for p in layer.parameters()] == ["gamma", "beta"]
    assert xpnn.to_numpy(layer.running_var.value).tolist() == [1.0, 1.0, 1.0]
    layer.astype("float64")
    assert xpnn.to_numpy(layer.running_mean.value).dtype == np.float64
    assert [p.name for p in BatchNorm(3, affine=False).parameters()] == []


def test_batchnorm_gradcheck_training(xp):
    layer = with_affine(BatchNorm(3))
    assert gradcheck(layer, on_backend(host_normal(6, 3, scale=2.0)))


def test_batchnorm_gradcheck_inference(xp):
    layer = with_affine(BatchNorm(3))
    for seed in (1, 2):  # running statistics away from (0, 1)
        layer.forward(on_backend(host_normal(10, 3, seed=seed, scale=3.0) + 1))
    assert gradcheck(layer, on_backend(host_normal(6, 3)), training=False)


def test_batchnorm_gradcheck_without_affine(xp):
    assert gradcheck(BatchNorm(4, affine=False).astype("float64"), on_backend(host_normal(5, 4)))


def test_batchnorm_running_statistics_after_two_steps(xp):
    momentum = 0.2
    layer = BatchNorm(3, momentum=momentum).astype("float64")
    mean, var = np.zeros(3), np.ones(3)
    for seed in (1, 2):
        x = host_normal(5, 3, seed=seed, scale=2.0) + seed
        layer.forward(on_backend(x))
        mean = (1 - momentum) * mean + momentum * x.mean(axis=0)
        var = (1 - momentum) * var + momentum * x.var(axis=0, ddof=1)  # unbiased
    assert_close(layer.running_mean.value, mean)
    assert_close(layer.running_var.value, var)


def test_batchnorm_inference_uses_running_statistics_and_changes_nothing(xp):
    layer = with_affine(BatchNorm(3))
    running_mean, running_var = host_normal(3, seed=7), 1 + np.abs(host_normal(3, seed=8))
    layer.running_mean.value = on_backend(running_mean)
    layer.running_var.value = on_backend(running_var)
    x = host_normal(1, 3)  # a batch of one is fine at inference
    gamma, beta = xpnn.to_numpy(layer.gamma.value), xpnn.to_numpy(layer.beta.value)
    expected = (x - running_mean) / np.sqrt(running_var + EPS) * gamma + beta
    assert_close(layer(on_backend(x)), expected)
    assert_close(layer.running_mean.value, running_mean)


def test_batchnorm_replaces_running_arrays_rather_than_writing_into_them(xp):
    layer = BatchNorm(2)
    before = layer.running_mean.value
    layer.forward(on_backend(host_normal(4, 2), dtype="float32"))
    assert xpnn.to_numpy(before).tolist() == [0.0, 0.0]


def test_batchnorm_agrees_across_backends(other_backend):
    x = host_normal(6, 4)
    assert check_backends(lambda: BatchNorm(4), x, backends=[other_backend]) == [other_backend]
    # inside a model, so gamma and beta see a non-trivial upstream
    make = lambda: xpnn.Sequential(xpnn.Dense(4, 3), BatchNorm(3), xpnn.Dense(3, 2))  # noqa: E731
    check_backends(make, x, backends=[other_backend])


def test_batchnorm_config_round_trip():
    layer = BatchNorm(5, momentum=0.3, eps=1e-3, affine=False, dtype="float64")
    config = layer.get_config()
    assert config == {"num_features": 5, "momentum": 0.3, "eps": 1e-3, "affine": False,
                      "dtype": "float64"}
    assert layer_from_config(layer_config(layer)).get_config() == config
    assert BatchNorm(2).astype("float64").get_config()["dtype"] == "float64"
    assert repr(BatchNorm(2)) == "BatchNorm(2, momentum=0.1, eps=1e-05)"


def test_batchnorm_batch_of_one_in_training(xp):
    with pytest.raises(ValueError, match="BatchNorm: training needs at least 2 samples per batch"):
        BatchNorm(3).forward(on_backend(np.ones((1, 3)), dtype="float32"))


def test_batchnorm_wrong_feature_count(xp):
    with pytest.raises(ValueError, match=r"BatchNorm: x has shape \(4, 2\), expected \(batch, 3\)"):
        BatchNorm(3).forward(on_backend(np.ones((4, 2)), dtype="float32"))


def test_batchnorm_one_dimensional_input(xp):
    with pytest.raises(ValueError, match=r"BatchNorm: x has shape \(3,\), expected \(batch, 3\)"):
        BatchNorm(3).forward(on_backend(np.ones(3), dtype="float32"))


def test_batchnorm_integer_input(xp):
    with pytest.raises(TypeError, match="BatchNorm: x must be a floating-point array"):
        BatchNorm(2).forward(xp.asarray([[1, 2], [3, 4]]))


def test_batchnorm_dtype_mismatch(xp):
    message = "BatchNorm: x has dtype float64 but the layer's running_mean has float32"
    with pytest.raises(TypeError, match=message):
        BatchNorm(2).forward(on_backend(np.ones((3, 2))))


def test_batchnorm_backward_with_wrongly_shaped_gradient(xp):
    _, backward = BatchNorm(2).forward(on_backend(host_normal(4, 2), dtype="float32"))
    with pytest.raises(ValueError, match=r"BatchNorm.backward: dout has shape \(4, 3\)"):
        backward(on_backend(np.ones((4, 3)), dtype="float32"))


@pytest.mark.parametrize("kwargs, error, message", [
    ({"num_features": 0}, ValueError, "BatchNorm: num_features must be a positive int, got 0"),
    ({"num_features": 3, "momentum": 1.5}, ValueError,
     r"BatchNorm: momentum must be in \[0, 1\], got 1.5"),
    ({"num_features": 3, "momentum": "x"}, TypeError, "BatchNorm: momentum must be a number"),
    ({"num_features": 3, "eps": 0}, ValueError, "BatchNorm: eps must be > 0, got 0"),
    ({"num_features": 3, "affine": "yes"}, TypeError, "BatchNorm: affine must be True or False"),
    ({"num_features": 3, "dtype": "int32"}, TypeError,
     "BatchNorm: dtype must be 'float32' or 'float64'"),
])
def test_batchnorm_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        BatchNorm(**kwargs)


# ----------------------------------------------------------- LayerNorm

def test_layernorm_forward_matches_numpy(xp):
    layer = with_affine(LayerNorm(4))
    x = host_normal(2, 3, 4, scale=3.0) - 2  # any leading axes
    gamma, beta = xpnn.to_numpy(layer.gamma.value), xpnn.to_numpy(layer.beta.value)
    assert_close(layer(on_backend(x)), reference(x, -1, gamma, beta))


def test_layernorm_rows_have_mean_zero_and_variance_one(xp):
    out = xpnn.to_numpy(LayerNorm(6)(on_backend(host_normal(5, 6, scale=4.0) + 3, dtype="float32")))
    np.testing.assert_allclose(out.mean(axis=-1), 0, atol=1e-6)
    np.testing.assert_allclose(out.var(axis=-1), 1, atol=1e-4)  # 1 - O(eps / var)


@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4)])
def test_layernorm_gradcheck(xp, shape):
    assert gradcheck(with_affine(LayerNorm(4)), on_backend(host_normal(*shape, scale=2.0)))


def test_layernorm_gradcheck_without_affine(xp):
    layer = LayerNorm(4, elementwise_affine=False)
    assert layer.parameters() == []
    assert gradcheck(layer, on_backend(host_normal(3, 4)))


def test_layernorm_agrees_across_backends(other_backend):
    make = lambda: xpnn.Sequential(xpnn.Dense(4, 5), LayerNorm(5), xpnn.Dense(5, 2))  # noqa: E731
    check_backends(make, host_normal(6, 4), backends=[other_backend])


def test_layernorm_config_round_trip():
    layer = LayerNorm(7, eps=1e-6, elementwise_affine=False, dtype="float64")
    config = layer.get_config()
    assert config == {"normalized_shape": 7, "eps": 1e-6, "elementwise_affine": False,
                      "dtype": "float64"}
    assert layer_from_config(layer_config(layer)).get_config() == config
    assert LayerNorm(2).astype("float64").get_config()["dtype"] == "float64"


def test_layernorm_wrong_last_axis(xp):
    with pytest.raises(ValueError, match=r"LayerNorm: x has shape \(4, 3\), expected \(..., 5\)"):
        LayerNorm(5).forward(on_backend(np.ones((4, 3)), dtype="float32"))


def test_layernorm_integer_input(xp):
    with pytest.raises(TypeError, match="LayerNorm: x must be a floating-point array"):
        LayerNorm(2, elementwise_affine=False).forward(xp.asarray([[1, 2]]))


@pytest.mark.parametrize("kwargs, error, message", [
    ({"normalized_shape": -2}, ValueError, "LayerNorm: normalized_shape must be a positive int"),
    ({"normalized_shape": 3, "eps": -1}, ValueError, "LayerNorm: eps must be > 0"),
    ({"normalized_shape": 3, "elementwise_affine": 1}, TypeError,
     "LayerNorm: elementwise_affine must be True or False"),
])
def test_layernorm_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        LayerNorm(**kwargs)
