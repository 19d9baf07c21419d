"""Arrays of two backends meeting in one operation get xpnn's TypeError that names both, at
every place that checks (issue 18: it was tested at 2 of 14)."""

import numpy as np
import pytest

import xpnn
from xpnn import metrics

MIXED = r"different backends mixed"


def on(backend, values, dtype="float32"):
    with xpnn.use_backend(backend):
        return xpnn.asarray(np.asarray(values), dtype=dtype)


def made_on(backend, make):
    with xpnn.use_backend(backend):
        return make()


@pytest.mark.parametrize("make", [
    lambda: xpnn.PReLU(), lambda: xpnn.BatchNorm(3), lambda: xpnn.LayerNorm(3), lambda: xpnn.Dense(3, 2),
], ids=["PReLU", "BatchNorm", "LayerNorm", "Dense"])
def test_a_layer_and_its_input_on_two_backends(other_backend, make):
    layer = made_on("numpy", make)
    with pytest.raises(TypeError, match=MIXED):
        layer.forward(on(other_backend, np.ones((4, 3))))


@pytest.mark.parametrize("name", ["ReLU", "Softmax", "GELU"])
def test_an_activation_backward_given_a_gradient_of_another_backend(other_backend, name):
    _, backward = getattr(xpnn, name)().forward(on("numpy", np.ones((4, 3))))
    with pytest.raises(TypeError, match=MIXED):
        backward(on(other_backend, np.ones((4, 3))))


@pytest.mark.parametrize("name", ["accuracy", "mae", "mse", "r2", "binary_accuracy", "auc", "precision"])
def test_a_metric_given_two_backends(other_backend, name):
    metric = metrics.get(name)
    pred = on("numpy", np.full((4, 1), 0.3))
    target = on(other_backend, [[0.0], [1.0], [1.0], [0.0]])
    with pytest.raises(TypeError, match=MIXED):
        metric.update(pred, target)


def test_an_optimizer_step_with_a_gradient_of_another_backend(other_backend):
    parameter = made_on("numpy", lambda: xpnn.Dense(3, 2)).weight
    parameter.grad = on(other_backend, np.ones((3, 2)))
    for optimizer in (xpnn.SGD(lr=0.1), xpnn.Adam(), xpnn.SGD(lr=0.1, clip_norm=1.0)):
        with pytest.raises(TypeError, match=MIXED):
            optimizer.step([parameter])


def test_clip_norm_over_gradients_of_two_backends(other_backend):
    from xpnn.optim import clip_global_norm

    with pytest.raises(TypeError, match=MIXED):
        clip_global_norm([on("numpy", np.ones(3)), on(other_backend, np.ones(3))], 1.0)


def test_lbfgs_given_a_gradient_of_another_backend(other_backend):
    def fun(x):
        return (x * x).sum(), on(other_backend, np.ones(3), dtype="float64")

    with pytest.raises(TypeError, match=MIXED):
        xpnn.LBFGS(max_iter=3).minimize(fun, on("numpy", np.ones(3), dtype="float64"))
