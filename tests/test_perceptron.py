"""xpnn.Perceptron: Rosenblatt's rule, checked against scikit-learn's Perceptron configured as it."""

import warnings

import numpy as np
import pytest

import xpnn
from xpnn.training.perceptron import ConvergenceWarning

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0, 1, 1, 0])


def separable(n=80, seed=0):
    """Two classes split by the line 1.5 x1 - 2 x2 + 0.3 = 0, with a gap around it."""
    generator = np.random.default_rng(seed)
    X = generator.normal(size=(4 * n, 2))
    z = X @ np.array([1.5, -2.0]) + 0.3
    keep = np.abs(z) > 0.3  # a margin, so the rule converges in a few epochs
    return X[keep][:n], (z[keep][:n] > 0).astype(np.int64)


@pytest.mark.parametrize("eta0, seed", [(1.0, 0), (0.1, 1), (2.5, 2)])
def test_equals_scikit_learn_perceptron_as_the_classic_rule(eta0, seed):
    """scikit-learn's SGD with the perceptron loss, no penalty, a constant rate eta0, no
    shuffling and no tolerance is the classic rule (a margin <= 0 counts as a mistake)."""
    sklearn_linear = pytest.importorskip("sklearn.linear_model")
    X, y = separable(seed=seed)
    ours = xpnn.Perceptron(eta0=eta0, shuffle=False).fit(X, y)
    theirs = sklearn_linear.Perceptron(penalty=None, alpha=0.0, eta0=eta0, shuffle=False, tol=None,
                                       max_iter=ours.n_iter_).fit(X, y)
    np.testing.assert_allclose(xpnn.to_numpy(ours.coef_), theirs.coef_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(xpnn.to_numpy(ours.intercept_), theirs.intercept_, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(xpnn.to_numpy(ours.predict(X)), theirs.predict(X))
    assert ours.n_iter_ > 1  # the comparison covered more than one epoch of updates


def test_converges_on_separable_data_on_every_backend(xp):
    X, y = separable()
    model = xpnn.Perceptron(random_state=3).fit(X, y)
    assert model.converged_ and model.mistakes_[-1] == 0 and model.mistakes_[0] > 0
    assert model.n_iter_ == len(model.mistakes_) < 1000
    assert model.score(X, y) == 1.0
    assert tuple(model.coef_.shape) == (1, 2) and tuple(model.intercept_.shape) == (1,)
    assert xpnn.backend.namespace_of(coef=model.coef_) is xp
    # every training sample strictly on its side: the margin is positive, not merely >= 0
    margin = xpnn.to_numpy(model.decision_function(X)) * np.where(y == 1, 1, -1)
    assert margin.min() > 0


def test_shuffled_runs_repeat_with_the_same_random_state():
    X, y = separable()
    first = xpnn.Perceptron(random_state=7).fit(X, y)
    second = xpnn.Perceptron(random_state=7).fit(X, y)
    np.testing.assert_array_equal(xpnn.to_numpy(first.coef_), xpnn.to_numpy(second.coef_))
    unshuffled = xpnn.Perceptron(shuffle=False).fit(X, y)
    assert first.mistakes_ != unshuffled.mistakes_  # the order did change


def test_fails_on_xor_with_a_convergence_warning():
    with pytest.warns(ConvergenceWarning, match="not linearly separable"):
        model = xpnn.Perceptron(max_iter=50).fit(XOR_X, XOR_Y)
    assert not model.converged_ and model.n_iter_ == 50 and model.mistakes_[-1] > 0
    assert model.score(XOR_X, XOR_Y) < 1.0
    assert issubclass(ConvergenceWarning, UserWarning)


def test_labels_keep_their_values_and_the_larger_is_positive():
    X, y = separable()
    labels = np.where(y == 1, 7, -3)
    model = xpnn.Perceptron().fit(X, labels)
    assert xpnn.to_numpy(model.classes_).tolist() == [-3, 7]
    np.testing.assert_array_equal(xpnn.to_numpy(model.predict(X)), labels)


def test_a_point_on_the_boundary_is_predicted_positive_as_the_step_function_says():
    model = xpnn.Perceptron(shuffle=False).fit(np.array([[1.0], [-1.0]]), np.array([1, 0]))
    assert xpnn.to_numpy(model.predict(np.array([[0.0]]))).tolist() == [1]
    assert float(model.intercept_[0]) == 0.0  # so w·0 + b is exactly 0 there


def test_eta0_only_scales_the_weights_from_zero():
    X, y = separable()
    one = xpnn.Perceptron(shuffle=False).fit(X, y)
    tenth = xpnn.Perceptron(shuffle=False, eta0=0.1).fit(X, y)
    np.testing.assert_allclose(0.1 * xpnn.to_numpy(one.coef_), xpnn.to_numpy(tenth.coef_), rtol=1e-12)


def test_fit_intercept_false_keeps_the_bias_at_zero():
    X, y = separable()
    model = xpnn.Perceptron(fit_intercept=False, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the data needs a bias: it may not converge
        model.fit(X, y)
    assert float(model.intercept_[0]) == 0.0


def test_get_and_set_params_and_clone():
    model = xpnn.Perceptron(eta0=0.5, max_iter=10)
    assert model.get_params() == {"eta0": 0.5, "fit_intercept": True, "max_iter": 10,
                                  "random_state": 0, "shuffle": True}
    assert model.set_params(shuffle=False) is model and model.shuffle is False
    assert repr(model) == "Perceptron(eta0=0.5, max_iter=10, shuffle=False)"
    with pytest.raises(ValueError, match="unknown parameter 'alpha'"):
        model.set_params(alpha=0.1)
    with pytest.raises(ValueError, match="eta0"):
        model.set_params(eta0=-1.0, max_iter=3)
    assert model.eta0 == 0.5 and model.max_iter == 10  # a refused set_params changes nothing
    base = pytest.importorskip("sklearn.base")
    assert base.clone(model).get_params() == model.get_params()


@pytest.mark.parametrize("arguments, error, match", [
    ({"max_iter": 0}, ValueError, "max_iter"),
    ({"max_iter": 2.5}, ValueError, "max_iter"),
    ({"eta0": 0}, ValueError, "eta0"),
    ({"eta0": "1"}, TypeError, "eta0"),
    ({"shuffle": 1}, TypeError, "shuffle"),
    ({"fit_intercept": None}, TypeError, "fit_intercept"),
    ({"random_state": -1}, TypeError, "random_state"),
])
def test_bad_arguments_are_named(arguments, error, match):
    with pytest.raises(error, match=f"Perceptron: {match}"):
        xpnn.Perceptron(**arguments)


@pytest.mark.parametrize("X, y, error, match", [
    (np.zeros(4), np.array([0, 1, 0, 1]), ValueError, "X must have shape"),
    (XOR_X, np.array([0, 1, 1]), ValueError, r"y must have shape \(4,\)"),
    (XOR_X, np.array([[0], [1], [1], [0]]), ValueError, r"y must have shape \(4,\)"),
    (XOR_X, np.array([1, 1, 1, 1]), ValueError, "exactly two distinct labels"),
    (XOR_X, np.array([0, 1, 2, 0]), ValueError, "exactly two distinct labels"),
    (np.array([[0.0, np.nan], [1.0, 1.0]]), np.array([0, 1]), ValueError, "X contains 1 NaN"),
    (XOR_X, np.array([0.0, 1.0, np.nan, 0.0]), ValueError, "y contains NaN"),
    (XOR_X, np.array(["a", "b", "a", "b"]), TypeError, "y (must hold numeric labels|cannot be turned into a numeric array)"),  # array_api_strict refuses text on the way in
    (None, XOR_Y, TypeError, "X is required"),
])
def test_bad_data_is_named(X, y, error, match):
    with pytest.raises(error, match=match):
        xpnn.Perceptron().fit(X, y)


def test_using_it_before_fit_or_with_other_features_is_refused():
    with pytest.raises(ValueError, match="not fitted yet"):
        xpnn.Perceptron().predict(XOR_X)
    model = xpnn.Perceptron().fit(np.array([[1.0, 0.0], [-1.0, 0.0]]), np.array([1, 0]))
    with pytest.raises(ValueError, match="X has 3 features, but this Perceptron was fitted with 2"):
        model.predict(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"score: y must have shape \(2,\)"):
        model.score(np.zeros((2, 2)), np.array([0, 1, 0]))
