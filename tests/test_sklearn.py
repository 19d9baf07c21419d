"""xpnn.sklearn: scikit-learn's MLP estimators, trained by xpnn on any backend.

The strongest check is the first: with the same random_state on float64 data, xpnn's loss
curve, validation scores and predictions are scikit-learn's to rounding, for every solver
setting that draws the same random numbers.
"""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn import neural_network  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

import xpnn  # noqa: E402
from xpnn.datasets import load_digits, load_iris  # noqa: E402
from xpnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# scikit-learn 1.7 gave its MLP sample_weight= and MLPRegressor(loss=...): the tests comparing
# with those need it; xpnn.sklearn itself works from 1.6, the declared floor
SKLEARN_VERSION = tuple(int(part) for part in sklearn.__version__.split(".")[:2])
needs_sklearn_1_7 = pytest.mark.skipif(
    SKLEARN_VERSION < (1, 7), reason=f"compares with scikit-learn >= 1.7's MLP (sample_weight, loss=); "
                                     f"scikit-learn {sklearn.__version__} is installed")


def digits(n=400):
    X, y = load_digits(return_X_y=True)
    return X[:n] / 16.0, y[:n]


def regression(n=300, outputs=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = X @ rng.normal(size=(5, outputs)) + np.sin(X[:, :1])
    return X, (y[:, 0] if outputs == 1 else y)


# ---------------------------------------------------------------- the same numbers as scikit-learn

CLASSIFIER_SETTINGS = [
    {},
    {"solver": "sgd", "learning_rate": "invscaling", "learning_rate_init": 0.1},
    {"solver": "sgd", "learning_rate": "adaptive", "nesterovs_momentum": False, "tol": 0.05, "n_iter_no_change": 2},
    {"early_stopping": True, "validation_fraction": 0.2},
    {"activation": "tanh", "alpha": 0.01, "batch_size": 64, "shuffle": False},
    {"activation": "logistic", "hidden_layer_sizes": (20, 10)},
]


@pytest.mark.parametrize("settings", CLASSIFIER_SETTINGS, ids=lambda s: ",".join(map(str, s.values())) or "defaults")
def test_classifier_follows_scikit_learn_to_rounding(xp, settings):
    X, y = digits()
    ours = MLPClassifier(random_state=0, max_iter=15, **settings).fit(X, y)
    theirs = neural_network.MLPClassifier(random_state=0, max_iter=15, **settings).fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    if settings.get("early_stopping"):
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-12)
        assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_)
        assert ours.best_loss_ is None
    else:
        assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-10)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-9)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, atol=1e-9)


@pytest.mark.parametrize("kind", ["binary", "multilabel", "sample_weight"])
def test_binary_multilabel_and_weighted_classification_follow_scikit_learn(kind):
    if kind == "sample_weight" and SKLEARN_VERSION < (1, 7):
        pytest.skip(needs_sklearn_1_7.kwargs["reason"])
    X, y = digits(300)
    weight = None
    if kind == "binary":
        y = (y >= 5).astype(int)
    elif kind == "multilabel":
        y = np.stack([y >= 5, y % 2 == 0, y == 3], axis=1).astype(int)
    else:
        weight = np.random.default_rng(0).uniform(0.1, 2.0, size=len(y))
    fit_arguments = {} if weight is None else {"sample_weight": weight}
    ours = MLPClassifier(random_state=1, max_iter=10).fit(X, y, **fit_arguments)
    theirs = neural_network.MLPClassifier(random_state=1, max_iter=10).fit(X, y, **fit_arguments)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-9)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    assert ours.out_activation_ == theirs.out_activation_


@needs_sklearn_1_7
@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_regressor_follows_scikit_learn_to_rounding(xp, loss):
    X, y = regression()
    if loss == "poisson":
        y = np.exp(0.3 * y / np.abs(y).max())
    settings = {"loss": loss, "random_state": 0, "max_iter": 20}
    ours = MLPRegressor(**settings).fit(X, y)
    theirs = neural_network.MLPRegressor(**settings).fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-8, atol=1e-10)
    assert ours.score(X, y) == pytest.approx(theirs.score(X, y), rel=1e-9)
    assert ours.out_activation_ == theirs.out_activation_


def test_partial_fit_and_warm_start_follow_scikit_learn():
    X, y = digits(300)
    ours, theirs = MLPClassifier(random_state=3), neural_network.MLPClassifier(random_state=3)
    for start in (0, 100, 200):
        ours.partial_fit(X[start:start + 100], y[start:start + 100], classes=np.arange(10))
        theirs.partial_fit(X[start:start + 100], y[start:start + 100], classes=np.arange(10))
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)
    warm = {"random_state": 3, "max_iter": 5, "warm_start": True}
    ours, theirs = MLPClassifier(**warm).fit(X, y), neural_network.MLPClassifier(**warm).fit(X, y)
    ours.fit(X, y), theirs.fit(X, y)
    assert ours.n_iter_ == 5 and len(ours.loss_curve_) == 10
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)


def test_fitted_attributes_are_scikit_learns():
    X, y = digits(200)
    ours = MLPClassifier(hidden_layer_sizes=(30, 20), random_state=0, max_iter=5).fit(X, y)
    theirs = neural_network.MLPClassifier(hidden_layer_sizes=(30, 20), random_state=0, max_iter=5).fit(X, y)
    for name in ("classes_", "n_features_in_", "n_iter_", "n_layers_", "n_outputs_", "out_activation_", "t_"):
        np.testing.assert_array_equal(getattr(ours, name), getattr(theirs, name), err_msg=name)
    for name in ("loss_", "best_loss_"):
        assert getattr(ours, name) == pytest.approx(getattr(theirs, name), rel=1e-10)
    assert ours.validation_scores_ is None and ours.best_validation_score_ is None
    assert [c.shape for c in ours.coefs_] == [(64, 30), (30, 20), (20, 10)]
    assert [b.shape for b in ours.intercepts_] == [(30,), (20,), (10,)]
    assert isinstance(ours.coefs_[0], np.ndarray)
    np.testing.assert_allclose(np.exp(ours.predict_log_proba(X)), ours.predict_proba(X))


# ---------------------------------------------------------------- L-BFGS

def test_lbfgs_reaches_scikit_learns_loss_on_a_convex_problem():
    """No hidden layer and alpha > 0: multinomial logistic regression, one minimum."""
    X, y = digits(300)
    settings = {"hidden_layer_sizes": (), "solver": "lbfgs", "alpha": 1e-2, "random_state": 0,
                "max_iter": 2000, "tol": 1e-7}
    ours = MLPClassifier(**settings).fit(X, y)
    theirs = neural_network.MLPClassifier(**settings).fit(X, y)
    # both stop on a relative decrease below ~2e-9 per step; measured 0.0154569 (xpnn) and 0.0154573
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-4)
    assert ours.loss_ <= theirs.loss_ * (1 + 1e-6)
    np.testing.assert_allclose(ours.coefs_[0], theirs.coefs_[0], atol=0.05)


def test_lbfgs_reaches_scikit_learns_loss_on_a_small_network():
    X, y = regression(n=200)
    settings = {"hidden_layer_sizes": (8,), "solver": "lbfgs", "alpha": 1.0, "random_state": 0,
                "max_iter": 1000, "activation": "tanh"}
    ours = MLPRegressor(**settings).fit(X, y)
    theirs = neural_network.MLPRegressor(**settings).fit(X, y)
    # measured: 0.0228271 (xpnn, 209 iterations) and 0.0228197 (scikit-learn, 248)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-3)
    assert ours.score(X, y) == pytest.approx(theirs.score(X, y), abs=1e-3)


def test_lbfgs_warns_like_scikit_learn_when_it_runs_out_of_iterations():
    X, y = digits(200)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge after 3 iteration"):
        model = MLPClassifier(solver="lbfgs", max_iter=3, random_state=0).fit(X, y)
    assert model.n_iter_ == 3 and not hasattr(model, "loss_curve_")


# ---------------------------------------------------------------- scikit-learn's own checks

# The checks check_estimator may skip, and why; any other skip fails the test (issue 18: the
# skips were silenced, and check_array_api_input was skipped without a word)
EXPECTED_SKIPS = {
    "pandas is not installed": "the optional pandas checks; they run where pandas is installed",
    "does not have a decision_function method": "MLPClassifier has predict_proba, as scikit-learn's",
}


def test_check_estimator_passes_for_both_estimators(backend_name):
    """scikit-learn's full estimator suite, on the backend under test, with SCIPY_ARRAY_API=1
    (set by conftest.py before scipy is imported) so that check_array_api_input runs too."""
    from sklearn.exceptions import SkipTestWarning

    assert os.environ.get("SCIPY_ARRAY_API") == "1"
    for estimator in (MLPClassifier(backend=backend_name), MLPRegressor(backend=backend_name)):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            check_estimator(estimator)  # raises on the first failed check
        skips = [str(w.message) for w in seen if issubclass(w.category, SkipTestWarning)]
        unexpected = [skip for skip in skips if not any(reason in skip for reason in EXPECTED_SKIPS)]
        assert not unexpected, unexpected
        assert not any("check_array_api_input" in skip for skip in skips)


# Where a non-default setting cannot pass a check, and why (numpy only, to keep the suite fast)
EXPECTED_FAILURES = {
    "lbfgs": {"check_classifiers_multilabel_output_format_predict_proba":
              "L-BFGS fits the check's data so closely that some sigmoid outputs round to exactly "
              "1.0, outside the open interval the check demands; scikit-learn's own "
              "MLPClassifier(solver='lbfgs') fails it the same way"},
    "dropout+batch_norm": {
        name: "dropout masks and batch statistics are drawn per row, so a row repeated twice is not "
              "the same as a row of weight 2"
        for name in ("check_sample_weight_equivalence_on_dense_data",
                     "check_sample_weight_equivalence_on_sparse_data")},
}


@pytest.mark.parametrize("setting, estimator", [
    ("lbfgs", MLPClassifier(solver="lbfgs")),
    ("sgd", MLPRegressor(solver="sgd")),
    ("dropout+batch_norm", MLPClassifier(dropout=0.1, batch_norm=True, activation="gelu", clip_norm=1.0)),
], ids=["lbfgs", "sgd", "dropout+batch_norm"])
def test_check_estimator_with_other_settings(setting, estimator, backend_name):
    if backend_name != "numpy":
        pytest.skip("numpy only, for time: the default settings are checked on every backend")
    with xpnn.use_backend("numpy"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(estimator, expected_failed_checks=EXPECTED_FAILURES.get(setting, {}))


# ---------------------------------------------------------------- in scikit-learn's tools

def test_pipeline_grid_search_and_cross_validation():
    X, y = load_iris(return_X_y=True)
    pipeline = make_pipeline(StandardScaler(), MLPClassifier(max_iter=300, random_state=0))
    search = GridSearchCV(pipeline, {"mlpclassifier__hidden_layer_sizes": [(5,), (20,)],
                                     "mlpclassifier__activation": ["relu", "gelu"]}, cv=3)
    search.fit(X, y)
    assert search.best_score_ > 0.9
    assert cross_val_score(MLPClassifier(max_iter=300, random_state=0), X, y, cv=3).mean() > 0.9


def test_the_iris_walk_through_and_grid_search_run_as_written(backend_name):
    """examples/iris_grid_search.py: the founding notes' scikit-learn code with xpnn.sklearn.MLPClassifier (~35 s)."""
    if backend_name != "numpy":
        pytest.skip("numpy only, for time")
    import os
    import pathlib

    script = pathlib.Path(__file__).parent.parent / "examples" / "iris_grid_search.py"
    env = {**os.environ, "XPNN_BACKEND": "numpy"}
    out = subprocess.run([sys.executable, str(script)], check=True, capture_output=True, text=True, env=env).stdout
    assert "Test Accuracy: 1.000" in out  # random_state=42 on the walk-through's split
    assert "Average accuracy: 0.969" in out  # the 20 seeded splits: scikit-learn's own figure too
    best = float(out.split("Best CV score:")[1].split()[0])
    assert best > 0.94


def test_string_labels_come_back_as_given():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    model = MLPClassifier(max_iter=300, random_state=0).fit(X, names)
    assert list(model.classes_) == ["setosa", "versicolor", "virginica"]
    assert set(model.predict(X)) <= set(names) and model.score(X, names) > 0.9


def test_xpnn_extras_train_well_on_digits():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    for settings in ({"activation": "gelu"}, {"dropout": 0.2}, {"batch_norm": True}, {"clip_norm": 0.5}):
        model = MLPClassifier(hidden_layer_sizes=(64,), max_iter=30, learning_rate_init=0.01, random_state=0,
                              **settings)
        assert model.fit(X[:1400], y[:1400]).score(X[1400:], y[1400:]) > 0.9, settings


def test_dropout_runs_repeat_with_the_same_random_state():
    X, y = digits(200)
    runs = [MLPClassifier(dropout=0.3, max_iter=5, random_state=7).fit(X, y).loss_curve_ for _ in range(2)]
    assert runs[0] == runs[1]
    assert MLPClassifier(dropout=0.3, max_iter=5, random_state=8).fit(X, y).loss_curve_ != runs[0]


def test_verbose_prints_scikit_learns_lines(capsys):
    X, y = digits(100)
    MLPClassifier(max_iter=2, verbose=True, random_state=0).fit(X, y)
    assert capsys.readouterr().out.startswith("Iteration 1, loss = ")


# ---------------------------------------------------------------- device arrays

def test_device_arrays_train_there_and_come_back_as_device_arrays():
    """array_api_strict stands in for CuPy: inputs of a non-NumPy backend train on it and the
    predictions stay there; the numbers are the NumPy run's."""
    pytest.importorskip("array_api_strict")
    X, y = digits(300)
    with xpnn.use_backend("array_api_strict"):
        Xd, yd = xpnn.asarray(X, dtype="float64"), xpnn.asarray(y)
    strict_array = type(Xd)
    model = MLPClassifier(random_state=0, max_iter=5).fit(Xd, yd)
    reference = MLPClassifier(random_state=0, max_iter=5, backend="numpy").fit(X, y)
    assert model._backend_ == "array_api_strict"
    proba = model.predict_proba(Xd)
    assert isinstance(proba, strict_array) and isinstance(model.predict(Xd), strict_array)
    np.testing.assert_allclose(np.from_dlpack(proba), reference.predict_proba(X), atol=1e-12)
    np.testing.assert_array_equal(np.from_dlpack(model.predict(Xd)), reference.predict(X))
    assert model.score(Xd, yd) == pytest.approx(reference.score(X, y))
    assert isinstance(model.predict(X), np.ndarray)  # host input: host output


@pytest.mark.parametrize("names", [["zero", "one", "two"], ["no", "yes"], [3, 7, 11], [True, False]])
def test_device_input_with_labels_no_device_can_hold(names):
    """Class indices come back as labels whatever the labels are: numbers stay on the device,
    strings (which no device array holds) come back as NumPy arrays, as scikit-learn's."""
    pytest.importorskip("array_api_strict")
    X, y = digits(200)
    labels = np.array(names, dtype=object if isinstance(names[0], str) else None)[y % len(names)]
    with xpnn.use_backend("array_api_strict"):
        Xd = xpnn.asarray(X, dtype="float64")
    model = MLPClassifier(random_state=0, max_iter=5).fit(Xd, labels)
    reference = MLPClassifier(random_state=0, max_iter=5, backend="numpy").fit(X, labels)
    predicted = model.predict(Xd)
    np.testing.assert_array_equal(xpnn.to_numpy(predicted) if not isinstance(predicted, np.ndarray) else predicted,
                                  reference.predict(X))
    assert isinstance(predicted, np.ndarray) == isinstance(names[0], str)
    assert model.score(Xd, labels) == pytest.approx(reference.score(X, labels))


def test_device_regression_targets_and_scores():
    pytest.importorskip("array_api_strict")
    X, y = regression(n=200, outputs=2)
    with xpnn.use_backend("array_api_strict"):
        Xd, yd = xpnn.asarray(X, dtype="float64"), xpnn.asarray(y, dtype="float64")
    model = MLPRegressor(random_state=0, max_iter=20).fit(Xd, yd)
    reference = MLPRegressor(random_state=0, max_iter=20, backend="numpy").fit(X, y)
    np.testing.assert_allclose(model.loss_curve_, reference.loss_curve_, rtol=1e-12)
    assert model.score(Xd, yd) == pytest.approx(reference.score(X, y), rel=1e-9)


# ---------------------------------------------------------------- errors, before any work

@pytest.mark.parametrize("settings, message", [
    ({"hidden_layer_sizes": (10, 0)}, r"hidden_layer_sizes must be positive ints, got \(10, 0\)"),
    ({"hidden_layer_sizes": "big"}, "hidden_layer_sizes must be positive ints"),
    ({"activation": "softmaxx"}, "activation: unknown activation 'softmaxx'"),
    ({"solver": "newton"}, "solver must be one of 'lbfgs', 'sgd', 'adam', got 'newton'"),
    ({"alpha": -1.0}, r"alpha must be >= 0, got -1.0"),
    ({"batch_size": 0}, "batch_size must be a positive int or 'auto', got 0"),
    ({"learning_rate": "cyclic"}, "learning_rate must be one of"),
    ({"learning_rate_init": 0.0}, r"learning_rate_init must be > 0, got 0.0"),
    ({"max_iter": 0}, "max_iter must be a positive int, got 0"),
    ({"momentum": 1.5}, r"momentum must be in \[0, 1\], got 1.5"),
    ({"validation_fraction": 1.0}, r"validation_fraction must be in \[0, 1\)"),
    ({"beta_2": 1.0}, r"beta_2 must be in \[0, 1\)"),
    ({"epsilon": 0}, "epsilon must be > 0, got 0"),
    ({"n_iter_no_change": 0}, "n_iter_no_change must be a positive int or math.inf"),
    ({"shuffle": "yes"}, "shuffle must be True or False, got 'yes'"),
    ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    ({"clip_norm": -1}, "clip_norm must be > 0, got -1"),
    ({"backend": "jax"}, "backend must be one of 'numpy', 'cupy', 'array_api_strict', 'auto', got 'jax'"),
    ({"solver": "lbfgs", "dropout": 0.5}, "dropout=0.5 needs a stochastic solver"),
])
def test_bad_parameters_are_named_before_any_work(settings, message):
    X, y = digits(50)
    model = MLPClassifier(**settings)
    with pytest.raises(ValueError, match=f"MLPClassifier: {message}"):
        model.fit(X, y)
    assert not hasattr(model, "n_features_in_") and not hasattr(model, "classes_")


def test_bad_regressor_loss_and_targets():
    X, y = regression(n=50)
    with pytest.raises(ValueError, match="MLPRegressor: loss must be 'squared_error' or 'poisson', got 'hinge'"):
        MLPRegressor(loss="hinge").fit(X, y)
    with pytest.raises(ValueError, match=r"MLPRegressor: loss='poisson' needs y >= 0"):
        MLPRegressor(loss="poisson").fit(X, y - 100)


def test_unusable_backend_is_a_clear_error():
    if xpnn.backend.available_backends()["cupy"][0]:
        pytest.skip("CuPy is usable here")
    X, y = digits(50)
    with pytest.raises(ValueError, match="MLPClassifier: backend: .*cupy"):
        MLPClassifier(backend="cupy").fit(X, y)


def test_sample_weight_errors():
    X, y = digits(50)
    cases = [
        (np.ones(49), r"sample_weight.shape == \(49,\), expected \(50,\)"),
        (np.full(50, np.nan), "sample_weight contains NaN or infinity"),
        (-np.ones(50), "sample_weight must be >= 0"),
        (np.zeros(50), "sample weights must contain at least one non-zero number"),
    ]
    for weight, message in cases:
        with pytest.raises(ValueError, match=f"MLPClassifier: {message}"):
            MLPClassifier().fit(X, y, sample_weight=weight)


def test_partial_fit_rules():
    X, y = digits(100)
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'"):  # scikit-learn's words
        MLPClassifier(solver="lbfgs").partial_fit(X, y, classes=np.arange(10))
    with pytest.raises(ValueError, match="classes must be passed on the first call to partial_fit"):
        MLPClassifier().partial_fit(X, y)
    model = MLPClassifier().partial_fit(X, y, classes=np.arange(10))
    with pytest.raises(ValueError, match="is not the same as on last call to partial_fit"):
        model.partial_fit(X, y, classes=np.arange(12))
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=np.arange(10))
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 64 features"):
        model.predict(X[:, :3])


# ---------------------------------------------------------------- an optional dependency

def test_importing_xpnn_does_not_import_scikit_learn():
    code = "import sys, xpnn; assert 'sklearn' not in sys.modules, 'xpnn imported sklearn'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_xpnn_sklearn_without_scikit_learn_says_how_to_install_it():
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "try:\n    import xpnn.sklearn\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert 'xpnn.sklearn needs scikit-learn, which is not installed: pip install "xpnn[sklearn]"' in out


# ---------------------------------------------------------------- issue 18, item 3

@pytest.mark.parametrize("estimator,bad", [
    ("classifier", {"random_state": -1}),  # the case: classes_ was replaced, then it raised
    ("classifier", {"hidden_layer_sizes": (0,)}),
    ("regressor", {"random_state": -1}),
])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_a_failed_fit_leaves_a_fitted_estimator_as_it_was(estimator, bad, method):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = np.arange(40) % 3
    model = (MLPClassifier if estimator == "classifier" else MLPRegressor)(
        hidden_layer_sizes=(5,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    before = {key: value for key, value in vars(model).items()}
    predicted = model.predict(X)
    new_labels = np.where(y == 2, 7, y)  # a fresh fit would learn classes [0, 1, 7]
    model.set_params(**bad)
    with pytest.raises(ValueError):
        if method == "fit":
            model.fit(X, new_labels)
        else:
            model.partial_fit(X, new_labels, **({"classes": [0, 1, 7]} if estimator == "classifier" else {}))
    model.set_params(**{key: before[key] for key in bad})
    assert set(vars(model)) == set(before)
    for key, value in before.items():
        assert vars(model)[key] is value, key
    np.testing.assert_array_equal(model.predict(X), predicted)


@pytest.mark.parametrize("parameters", [
    {"hidden_layer_sizes": (np.int64(5),)}, {"hidden_layer_sizes": np.int64(5)}, {"hidden_layer_sizes": np.arange(3, 5)},
    {"max_iter": np.int64(3)}, {"batch_size": np.int32(8)}, {"n_iter_no_change": np.int64(2)},
    {"alpha": np.float32(1e-3)}, {"learning_rate_init": np.float64(0.01)}, {"random_state": np.int64(3)},
    {"solver": "lbfgs", "max_fun": np.int64(50)}, {"solver": "sgd", "momentum": np.float16(0.5)},
    {"early_stopping": True, "validation_fraction": np.float64(0.2)},
])
def test_numpy_numbers_are_accepted_where_scikit_learn_accepts_them(backend_name, parameters):
    """Issue 18, item 14: GridSearchCV over np.arange gives NumPy integers; on
    array_api_strict a NumPy scalar must not reach the array arithmetic (it failed there)."""
    X, y = np.random.default_rng(0).normal(size=(30, 3)), np.arange(30) % 2
    settings = {"max_iter": 3, "random_state": 0, "backend": backend_name, **parameters}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert MLPClassifier(**settings).fit(X, y).predict(X).shape == (30,)


# ---------------------------------------------------------------- issue 18, item 5: sparse X

@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("estimator", ["classifier", "regressor"])
def test_sparse_input_gives_what_dense_input_gives(backend_name, solver, estimator):
    scipy_sparse = pytest.importorskip("scipy.sparse")
    X, y = digits(150)
    if estimator == "regressor":
        y = X[:, 10] + X[:, 20]
    cls = MLPClassifier if estimator == "classifier" else MLPRegressor
    settings = dict(hidden_layer_sizes=(8,), solver=solver, max_iter=6, random_state=0, backend=backend_name,
                    early_stopping=solver == "adam", validation_fraction=0.2)
    dense, sparse = cls(**settings).fit(X, y), cls(**settings).fit(scipy_sparse.csr_matrix(X), y)
    exact = solver != "lbfgs"  # L-BFGS sums its full batch a block at a time: the same to rounding
    for a, b in zip(dense.coefs_ + dense.intercepts_, sparse.coefs_ + sparse.intercepts_):
        np.testing.assert_allclose(b, a, rtol=0 if exact else 1e-10, atol=0 if exact else 1e-12)
    for matrix in (scipy_sparse.csr_matrix(X), scipy_sparse.csc_matrix(X)):
        np.testing.assert_allclose(sparse.predict(matrix), dense.predict(X), rtol=1e-12)
    assert sparse.score(scipy_sparse.csr_matrix(X), y) == pytest.approx(dense.score(X, y), rel=1e-12)


def test_sparse_input_is_never_densified_whole():
    """The issue's case, scaled down: densified whole this X takes 200 MB; a batch of 50 rows
    takes 4 MB, and L-BFGS and predict work in blocks of at most 64 MiB."""
    import tracemalloc

    scipy_sparse = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(0)
    X = scipy_sparse.random(1000, 25000, density=0.0004, format="csr", random_state=0)
    y = rng.integers(0, 2, size=1000)
    tracemalloc.start()
    try:
        MLPClassifier(hidden_layer_sizes=(4,), batch_size=50, max_iter=2, random_state=0).fit(X, y).predict(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 150e6, f"peak {peak / 1e6:.0f} MB"
