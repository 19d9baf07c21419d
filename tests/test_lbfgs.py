"""xpnn.LBFGS: two-loop recursion and strong-Wolfe line search, on every backend."""

import numpy as np
import pytest

import xpnn
from xpnn.optim.lbfgs import LBFGS

from .helpers import on_backend


def _quadratic(seed=0, n=20):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, n))
    H = A @ A.T + np.eye(n)
    b = rng.normal(size=n)
    return H, b


def test_finds_the_minimum_of_a_quadratic(xp):
    H, b = _quadratic()
    Hd, bd = on_backend(H), on_backend(b)

    def fun(x):
        g = Hd @ x - bd
        return 0.5 * xp.vecdot(x, Hd @ x) - xp.vecdot(bd, x), g

    result = LBFGS(gtol=1e-6, ftol=0.0).minimize(fun, on_backend(np.zeros(20)))
    assert result.converged and "gtol" in result.message
    np.testing.assert_allclose(xpnn.to_numpy(result.x), np.linalg.solve(H, b), rtol=1e-5, atol=1e-6)
    assert type(result.x) is type(on_backend(np.zeros(1)))  # stays on its backend


@pytest.mark.parametrize("n", [2, 10])
def test_rosenbrock_in_as_many_iterations_as_scipy(n):
    optimize = pytest.importorskip("scipy.optimize")
    x0 = np.tile([-1.2, 1.0], n // 2)

    def fun(x):
        return optimize.rosen(x), optimize.rosen_der(x)

    ours = LBFGS(gtol=1e-8, max_iter=1000).minimize(fun, x0)
    scipy_result = optimize.minimize(fun, x0, jac=True, method="L-BFGS-B",
                                     options={"gtol": 1e-8, "maxiter": 1000})
    assert ours.converged
    assert ours.fun < 1e-8
    np.testing.assert_allclose(ours.x, np.ones(n), atol=1e-4)
    assert ours.n_iter <= 1.2 * scipy_result.nit + 2  # measured: 36 vs 36 (n=2), 70 vs 71 (n=10)


def test_minimize_parameters_fits_least_squares_in_place(xp):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 3))
    y = X @ np.array([[1.0], [-2.0], [0.5]]) + 0.3
    layer = xpnn.Dense(3, 1).astype("float64")
    weight_array = layer.weight.value
    Xd, yd = on_backend(X), on_backend(y)
    loss = xpnn.MSE()

    def closure():
        out, backward = layer.forward(Xd)
        value, loss_backward = loss.forward(out, yd)
        layer.zero_grad()
        backward(loss_backward())
        return value

    result = LBFGS(gtol=1e-10).minimize_parameters(closure, layer.parameters())
    assert result.converged and result.fun < 1e-9
    assert layer.weight.value is weight_array  # updated in place: every reference sees it
    np.testing.assert_allclose(xpnn.to_numpy(layer.weight.value)[:, 0], [1.0, -2.0, 0.5], atol=1e-4)
    np.testing.assert_allclose(xpnn.to_numpy(layer.bias.value), [0.3], atol=1e-4)


def test_stops_at_max_iter_and_max_fun_and_says_so():
    H, b = _quadratic(n=30)

    def fun(x):
        return 0.5 * x @ H @ x - b @ x, H @ x - b

    by_iter = LBFGS(max_iter=3, gtol=0.0, ftol=0.0).minimize(fun, np.zeros(30))
    assert (by_iter.n_iter, by_iter.converged) == (3, False)
    assert "max_iter=3" in by_iter.message
    by_fun = LBFGS(max_fun=5, gtol=0.0, ftol=0.0).minimize(fun, np.zeros(30))
    assert not by_fun.converged and by_fun.n_fun <= 6


def test_a_non_finite_start_is_reported_not_iterated():
    result = LBFGS().minimize(lambda x: (float("nan"), x), np.ones(3))
    assert not result.converged and result.n_iter == 0 and "not finite" in result.message


@pytest.mark.parametrize("kwargs, message", [
    ({"history_size": 0}, "LBFGS: history_size must be a positive int, got 0"),
    ({"max_iter": 1.5}, "LBFGS: max_iter must be a positive int, got 1.5"),
    ({"gtol": -1.0}, "LBFGS: gtol must be >= 0, got -1.0"),
    ({"ftol": -1e-9}, "LBFGS: ftol must be >= 0, got -1e-09"),
    ({"c1": 0.95}, r"LBFGS: the Wolfe constants need 0 < c1 < c2 < 1, got c1=0.95, c2=0.9"),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LBFGS(**kwargs)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match=r"LBFGS.minimize: x0 must be 1-D, got shape \(2, 2\)"):
        LBFGS().minimize(lambda x: (0.0, x), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"LBFGS: fun returned a gradient of shape \(2,\), expected \(3,\)"):
        LBFGS().minimize(lambda x: (0.0, x[:2]), np.zeros(3))
    frozen = xpnn.Dense(2, 1).freeze()
    with pytest.raises(ValueError, match="LBFGS.minimize_parameters: params has no trainable Parameter"):
        LBFGS().minimize_parameters(lambda: 0.0, frozen.parameters())
