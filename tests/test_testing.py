import numpy as np
import pytest

import xpnn
from xpnn.testing import GradcheckError, assert_close, gradcheck

from .helpers import host_normal, on_backend


def test_gradcheck_restores_float32_parameters_and_their_gradients(xp):
    layer = xpnn.Dense(3, 2)
    before = xpnn.to_numpy(layer.weight.value).copy()
    assert gradcheck(layer, on_backend(host_normal(2, 3), dtype="float32"))
    assert layer.weight.value.dtype == xp.float32
    assert np.array_equal(xpnn.to_numpy(layer.weight.value), before)
    assert layer.weight.grad is None


def test_gradcheck_catches_a_wrong_parameter_gradient(xp):
    class DoubledWeightGradient(xpnn.Dense):
        def forward(self, x, training=True):
            out, backward = super().forward(x, training)

            def wrong(dout):
                dx = backward(dout)
                self.weight.grad = self.weight.grad * 2.0
                return dx

            return out, wrong

    with pytest.raises(GradcheckError, match=r"gradient of weight at index \(\d+, \d+\)"):
        gradcheck(DoubledWeightGradient(3, 2), on_backend(host_normal(2, 3)))


def test_gradcheck_reports_a_missing_gradient(xp):
    class ForgetsBias(xpnn.Dense):
        def forward(self, x, training=True):
            out, backward = super().forward(x, training)

            def forgetful(dout):
                dx = backward(dout)
                self.bias.grad = None
                return dx

            return out, forgetful

    with pytest.raises(GradcheckError, match="gradient of bias was never computed"):
        gradcheck(ForgetsBias(3, 2), on_backend(host_normal(2, 3)))


def test_gradcheck_argument_errors():
    with pytest.raises(TypeError, match="target must be an xpnn Layer or Loss, got function"):
        gradcheck(lambda x: x, np.ones(2))
    with pytest.raises(TypeError, match="CrossEntropy takes 2 input"):
        gradcheck(xpnn.CrossEntropy(), np.ones((2, 2)))


def test_assert_close_names_the_worst_index():
    assert_close(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-12]))
    with pytest.raises(AssertionError, match=r"weights: mismatch at index \(1, 0\)"):
        assert_close(np.zeros((2, 2)), np.array([[0.0, 0.0], [1.0, 0.0]]), name="weights")
    with pytest.raises(AssertionError, match="shapes differ"):
        assert_close(np.zeros(2), np.zeros(3))
    with pytest.raises(AssertionError, match="mismatch"):
        assert_close(np.array([np.nan]), np.array([1.0]))


def test_check_backends_refuses_an_unusable_backend():
    with pytest.raises(xpnn.BackendError, match=r"backend\(s\) \['tpu'\] not usable here"):
        xpnn.check_backends(lambda: xpnn.Dense(2, 2), np.ones((1, 2)), backends=["tpu"])


def test_gradcheck_takes_float32_buffers_and_leaves_them_as_they_were(xp):
    layer = xpnn.BatchNorm(3)
    before = xpnn.to_numpy(layer.running_mean.value).copy()
    assert gradcheck(layer, xpnn.asarray(np.random.default_rng(0).normal(size=(5, 3))))
    assert layer.running_mean.value.dtype == xp.float32
    assert np.array_equal(xpnn.to_numpy(layer.running_mean.value), before)
