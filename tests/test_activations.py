import math

import numpy as np
import pytest

import xpnn
from xpnn import activations as act
from xpnn.testing import GradcheckError, assert_close, gradcheck

from .helpers import away_from, host_normal, on_backend

# (layer factory, kinks to keep finite differences away from)
ELEMENTWISE = {
    "identity": (act.Identity, ()),
    "sigmoid": (act.Sigmoid, ()),
    "sigmoid_beta": (lambda: act.Sigmoid(beta=2.5), ()),
    "tanh": (act.Tanh, ()),
    "relu": (act.ReLU, (0.0,)),
    "leaky_relu": (lambda: act.LeakyReLU(alpha=0.1), (0.0,)),
    "elu": (act.ELU, (0.0,)),
    "selu": (act.SELU, (0.0,)),
    "gelu": (act.GELU, ()),
    "gelu_tanh": (lambda: act.GELU(approximate="tanh"), ()),
    "silu": (act.SiLU, ()),
    "softplus": (act.Softplus, ()),
    "mish": (act.Mish, ()),
    "hard_sigmoid": (act.HardSigmoid, (-3.0, 3.0)),
    "piecewise_linear": (lambda: act.PiecewiseLinear(x_min=-1.0, x_max=2.0), (-1.0, 2.0)),
    "hard_tanh": (act.HardTanh, (-1.0, 1.0)),
    "gaussian": (lambda: act.Gaussian(mu=0.5, sigma=1.5), ()),
    "step": (act.Step, (0.0,)),
}
ALONG_LAST_AXIS = {"softmax": act.Softmax, "log_softmax": act.LogSoftmax}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_gradcheck(xp, name):
    make, kinks = ELEMENTWISE[name]
    x = on_backend(away_from(host_normal(4, 5, scale=2.5), kinks))
    assert gradcheck(make(), x)


@pytest.mark.parametrize("name", sorted(ALONG_LAST_AXIS))
def test_softmax_family_gradcheck(xp, name):
    x = on_backend(host_normal(3, 6, scale=3.0))
    assert gradcheck(ALONG_LAST_AXIS[name](), x)


def test_prelu_gradcheck_input_and_alpha(xp):
    x = on_backend(away_from(host_normal(4, 3), (0.0,)))
    for layer in (act.PReLU(), act.PReLU(num_parameters=3, init=0.1)):
        assert gradcheck(layer, x)


def test_gradcheck_at_the_boundaries(xp):
    """Saturated sigmoid (+-40) and softmax with one huge logit: gradients stay exact."""
    assert gradcheck(act.Sigmoid(), on_backend(np.array([[-40.0, -20.0, 0.0, 20.0, 40.0]])))
    logits = np.array([[1000.0, 0.0, -1.0], [0.5, 0.25, -700.0]])
    assert gradcheck(act.Softmax(), on_backend(logits))
    assert gradcheck(act.LogSoftmax(), on_backend(logits))


def test_pure_function_and_derivative_agree_with_layer(xp):
    x = on_backend(host_normal(3, 4))
    for name in ("sigmoid", "tanh", "gelu", "mish", "gaussian"):
        fn = getattr(act, name)
        out, backward = act.get(name).forward(x)
        assert_close(fn(x), out)
        assert_close(fn.derivative(x), backward(xp.ones_like(x)))


# ----------------------------------------------------------- the founding notes' formulas

def test_sigmoid_derivative_peaks_at_zero_with_a_quarter(xp):
    z = on_backend(np.linspace(-6, 6, 121))
    d = xpnn.to_numpy(act.sigmoid.derivative(z))
    assert d[60] == pytest.approx(0.25, abs=1e-15)
    assert d.max() == d[60]


def test_sigmoid_slope_beta_matches_seed_formula(xp):
    z = np.linspace(-3, 3, 13)
    expected = 1.0 / (1.0 + np.exp(-2.0 * z))
    assert_close(act.sigmoid(on_backend(z), beta=2.0), expected)
    assert_close(act.sigmoid.derivative(on_backend(z), beta=2.0), 2.0 * expected * (1 - expected))


def test_tanh_derivative_is_one_at_zero(xp):
    assert float(act.tanh.derivative(on_backend(np.zeros(1)))[0]) == 1.0


def test_relu_derivative_is_one_for_positive_and_zero_otherwise(xp):
    z = on_backend(np.array([-2.0, -1e-9, 0.0, 1e-9, 3.0]))
    assert xpnn.to_numpy(act.relu(z)).tolist() == [0.0, 0.0, 0.0, 1e-9, 3.0]
    assert xpnn.to_numpy(act.relu.derivative(z)).tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]


def test_leaky_relu_and_elu_follow_the_textbook(xp):
    z = np.array([-2.0, -0.5, 0.5, 2.0])
    assert_close(act.leaky_relu(on_backend(z)), np.where(z > 0, z, 0.01 * z))
    assert_close(act.leaky_relu.derivative(on_backend(z)), np.where(z > 0, 1.0, 0.01))
    assert_close(act.elu(on_backend(z), alpha=0.7), np.where(z > 0, z, 0.7 * (np.exp(z) - 1)))


def test_softmax_rows_sum_to_one_even_with_huge_logits(xp):
    logits = on_backend(np.array([[1e4, 0.0, -1e4], [1.0, 2.0, 3.0], [-5.0, -5.0, -5.0]]),
                        dtype="float32")
    probabilities = xpnn.to_numpy(act.softmax(logits))
    assert np.all(np.isfinite(probabilities))
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(probabilities[2], [1 / 3] * 3, rtol=1e-6)
    log_p = xpnn.to_numpy(act.log_softmax(logits))
    assert np.all(np.isfinite(log_p))
    assert log_p[0, 2] == pytest.approx(-2e4, rel=1e-6)


def test_sigmoid_never_overflows_in_float32(xp):
    with np.errstate(over="raise"):
        out = xpnn.to_numpy(act.sigmoid(on_backend(np.array([-1e4, -100.0, 100.0, 1e4]),
                                                   dtype="float32")))
    assert out.tolist() == [0.0, pytest.approx(3.7e-44, rel=0.1), 1.0, 1.0]


def test_softplus_is_stable_and_exact_for_small_values(xp):
    z = on_backend(np.array([-800.0, -30.0, 0.0, 30.0, 800.0]))
    expected = [math.log1p(math.exp(-800.0)), math.log1p(math.exp(-30.0)), math.log(2.0),
                30.0 + math.log1p(math.exp(-30.0)), 800.0]
    assert_close(act.softplus(z), np.array(expected), rtol=1e-15, atol=0)


def test_gelu_exact_matches_erf_definition(xp):
    z = np.linspace(-6, 6, 49)
    expected = np.array([v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in z])
    assert_close(act.gelu(on_backend(z)), expected, rtol=1e-15, atol=1e-15)
    tanh_form = 0.5 * z * (1 + np.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z ** 3)))
    assert_close(act.gelu(on_backend(z), approximate="tanh"), tanh_form)
    assert np.max(np.abs(tanh_form - expected)) < 1e-3  # the approximation is close, not exact


def test_selu_constants_and_hard_functions(xp):
    z = np.array([-4.0, -1.0, 0.5, 4.0])
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    assert_close(act.selu(on_backend(z)), scale * np.where(z > 0, z, alpha * np.expm1(z)))
    assert_close(act.hard_sigmoid(on_backend(z)), np.clip(z / 6 + 0.5, 0, 1))
    assert_close(act.hard_tanh(on_backend(z)), np.clip(z, -1, 1))


def test_piecewise_linear_is_the_seed_formula(xp):
    """0 for x <= x_min, m x + b in between, 1 for x >= x_max (the notes' piecewise-linear unit)."""
    x_min, x_max = -1.0, 3.0
    m, b = 1 / (x_max - x_min), -x_min / (x_max - x_min)
    z = np.array([-2.0, -1.0, 0.0, 1.0, 2.9, 3.0, 5.0])
    expected = np.where(z <= x_min, 0.0, np.where(z >= x_max, 1.0, m * z + b))
    assert_close(act.get("piecewise_linear", x_min=x_min, x_max=x_max).forward(on_backend(z))[0],
                 expected)


def test_gaussian_is_the_normal_density_and_step_is_heaviside(xp):
    z = np.array([-2.0, 0.0, 0.7])
    mu, sigma = 0.2, 0.8
    density = np.exp(-((z - mu) ** 2) / (2 * sigma ** 2)) / (sigma * math.sqrt(2 * math.pi))
    assert_close(act.gaussian(on_backend(z), mu=mu, sigma=sigma), density)
    assert xpnn.to_numpy(act.step(on_backend(np.array([-1.0, 0.0, 2.0])))).tolist() == [0, 1, 1]
    _, backward = act.Step().forward(on_backend(z))
    assert xpnn.to_numpy(backward(xp.ones_like(on_backend(z)))).tolist() == [0.0, 0.0, 0.0]


def test_derivatives_from_output_keep_only_the_output(xp):
    """sigmoid/tanh/relu/softmax backward closures hold the output, not the input."""
    for name in ("sigmoid", "tanh", "relu", "softmax"):
        assert act.get(name).function.saves == "output"


# ----------------------------------------------------------- registry and layers

def test_every_name_builds_a_layer_and_aliases_agree(xp):
    for name in act.names():
        layer = act.get(name)
        assert isinstance(layer, xpnn.Layer)
    assert type(act.get("swish")) is act.SiLU
    assert type(act.get("logistic")) is act.Sigmoid
    assert type(act.get("Leaky-ReLU")) is act.LeakyReLU
    assert act.get(None) is None
    relu = act.ReLU()
    assert act.get(relu) is relu


def test_layer_repr_shows_changed_hyper_parameters():
    assert repr(act.LeakyReLU(alpha=0.2)) == "LeakyReLU(alpha=0.2)"
    assert repr(act.ReLU()) == "ReLU()"


def test_inference_call_returns_output_only(xp):
    x = on_backend(host_normal(2, 3))
    assert_close(act.Tanh()(x), np.tanh(host_normal(2, 3)))


# ----------------------------------------------------------- bad input

def test_unknown_activation_name_lists_valid_ones():
    with pytest.raises(ValueError, match=r"unknown activation 'relu6'.*valid names: .*gelu"):
        act.get("relu6")


def test_activation_of_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="activation must be a name"):
        act.get(3.5)


def test_unknown_hyper_parameter_is_named():
    with pytest.raises(TypeError, match=r"'relu' got unknown argument\(s\) \['alpha'\]"):
        act.ReLU(alpha=0.1)


@pytest.mark.parametrize("make, message", [
    (lambda: act.Gaussian(sigma=0.0), "sigma must be > 0"),
    (lambda: act.Sigmoid(beta=-1.0), "beta must be > 0"),
    (lambda: act.LeakyReLU(alpha=float("nan")), "alpha must be finite"),
    (lambda: act.HardTanh(min_val=1.0, max_val=-1.0), "min_val must be < max_val"),
    (lambda: act.HardSigmoid(x_min=2.0, x_max=2.0), "x_min must be < x_max"),
    (lambda: act.GELU(approximate="fast"), "approximate must be 'none' or 'tanh'"),
    (lambda: act.PReLU(num_parameters=0), "num_parameters must be a positive int"),
    (lambda: act.LeakyReLU(alpha="big"), "alpha must be a number"),
])
def test_bad_hyper_parameters_are_rejected_with_their_name(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_integer_input_is_rejected(xp):
    with pytest.raises(TypeError, match=r"ReLU: x must be a floating-point array, got dtype int64"):
        act.ReLU().forward(xp.asarray([1, 2, 3]))
    with pytest.raises(TypeError, match="z must be a floating-point array"):
        act.sigmoid(xp.asarray([1, 2, 3]))


def test_non_array_input_is_rejected():
    with pytest.raises(TypeError, match=r"x must be an array .* got list"):
        act.ReLU().forward([1.0, 2.0])


def test_prelu_feature_count_mismatch(xp):
    with pytest.raises(ValueError, match=r"PReLU: x has shape \(2, 4\) but alpha has 3 values"):
        act.PReLU(num_parameters=3).forward(on_backend(np.ones((2, 4)), dtype="float32"))


def test_gradcheck_catches_a_wrong_derivative(xp):
    """The check itself can fail: a sigmoid whose derivative forgets (1 - a)."""
    wrong = act.ActivationFunction.__new__(act.ActivationFunction)
    wrong.__dict__.update(act.sigmoid.__dict__)
    wrong.def_derivative(lambda xp_, z, a, *, beta: beta * a)

    class WrongSigmoid(act.Activation):
        function = wrong

    with pytest.raises(GradcheckError, match=r"gradient of x at index \(\d+, \d+\): analytic"):
        gradcheck(WrongSigmoid(), on_backend(host_normal(2, 3)))
