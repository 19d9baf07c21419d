"""Pickling on every backend (xpnn/backend/pickling.py): a pickle holds host copies of the
arrays and no backend object, and unpickling makes the arrays on the active backend of the
process that unpickles; ``copy.deepcopy`` keeps them where they are."""

import copy
import inspect
import os
import pickle
import subprocess
import sys
import warnings
from collections import namedtuple

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402

import xpnn  # noqa: E402
from xpnn.backend import Portable, backend_name_of, is_array, namespace_of, portable, unwrapped  # noqa: E402
from xpnn.datasets import load_iris  # noqa: E402
from xpnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402


def _iris():
    X, y = load_iris(return_X_y=True)
    return ((X - X.mean(axis=0)) / X.std(axis=0)).astype("float32"), y


def arrays_in(thing, seen=None) -> list:
    """Every backend array reachable from ``thing`` through attributes (``__dict__`` and
    ``__slots__``), lists, tuples and dicts."""
    seen = set() if seen is None else seen
    if id(thing) in seen or isinstance(thing, (str, bytes, int, float, type(None))):
        return []
    seen.add(id(thing))
    if is_array(thing):
        return [thing]
    if isinstance(thing, dict):
        children = list(thing.values())
    elif isinstance(thing, (list, tuple)):
        children = list(thing)
    else:
        children = list(getattr(thing, "__dict__", {}).values())
        children += [getattr(thing, s) for s in getattr(type(thing), "__slots__", ()) if hasattr(thing, s)]
    return [array for child in children for array in arrays_in(child, seen)]


def backends_of(arrays) -> set:
    return {backend_name_of(namespace_of(a=a)) for a in arrays}


def trained_state(estimator) -> list:
    """What a fitted estimator trains with: its network, solver and best weights (not the
    host metadata scikit-learn keeps, such as ``classes_``)."""
    return [estimator._network, estimator._solver, estimator._best_state]


def host(arrays) -> list:
    return [xpnn.to_numpy(a) for a in arrays]


# ---------------------------------------------------------------- the building block

def test_portable_wraps_arrays_in_nested_containers_and_unwraps_them(xp):
    a, b = xp.asarray([1.0, 2.0]), xp.asarray([[3]], dtype=xp.int64)
    Pair = namedtuple("Pair", "left right")
    pair = Pair(1, 2)
    tree = {"list": [a, 1.5, None], "tuple": (b, "text"), "pair": pair, "nested": {"a": a}}
    wrapped = portable(tree)
    assert isinstance(wrapped["list"][0], Portable) and wrapped["list"][1:] == [1.5, None]
    assert isinstance(wrapped["tuple"], tuple) and isinstance(wrapped["tuple"][0], Portable)
    assert wrapped["pair"] is pair  # a named tuple is a value, not a container to rebuild
    back = unwrapped(wrapped)
    assert back["list"][0] is a and back["tuple"][0] is b and back["nested"]["a"] is a
    assert tree["list"][0] is a  # the caller's containers are left alone


def test_a_pickled_portable_is_made_on_the_active_backend_in_its_dtype(xp, backend_name):
    data = pickle.dumps(portable([xp.asarray([1.0, 2.0], dtype=xp.float64)]))
    for target in {"numpy", backend_name}:
        with xpnn.use_backend(target):
            (array,) = unwrapped(pickle.loads(data))
        assert backend_name_of(namespace_of(a=array)) == target
        assert xpnn.backend.dtype_name(array.dtype) == "float64"
        np.testing.assert_array_equal(xpnn.to_numpy(array), [1.0, 2.0])


def test_deepcopy_keeps_arrays_on_their_backend_and_copies_them(xp, backend_name):
    original = xpnn.Model(xpnn.Dense(4, 3), xpnn.BatchNorm(3))
    with xpnn.use_backend("numpy"):  # a copy is no trip between processes: the active one does not count
        twin = copy.deepcopy(original)
    assert backends_of(arrays_in(twin)) == {backend_name}
    twin.layers[0].weight.value += 1.0
    assert not np.array_equal(xpnn.to_numpy(twin.layers[0].weight.value),
                              xpnn.to_numpy(original.layers[0].weight.value))


@pytest.mark.once
def test_unpickling_under_an_unusable_backend_names_it():
    data = pickle.dumps(xpnn.Model(xpnn.Dense(2, 1)))
    code = "import pickle, sys; pickle.loads(sys.stdin.buffer.read())"
    env = {**os.environ, "XPNN_BACKEND": "tensorflow"}
    out = subprocess.run([sys.executable, "-c", code], input=data, env=env, capture_output=True)
    assert out.returncode != 0
    assert b"XPNN_BACKEND='tensorflow': unknown backend 'tensorflow'" in out.stderr


# ---------------------------------------------------------------- Model

def _trained_model(optimizer):
    X, y = _iris()
    model = xpnn.Model(xpnn.Dense(4, 16), xpnn.BatchNorm(16), xpnn.ReLU(), xpnn.Dropout(0.3, seed=5),
                       xpnn.Dense(16, 3))
    model.fit(X, y, loss="cross_entropy", optimizer=optimizer, epochs=2, batch_size=50, verbose=0,
              seed=0, metrics=["accuracy"])
    return model, X, y


@pytest.mark.parametrize("optimizer", ["adam", "sgd_momentum"])
def test_a_trained_model_round_trips_and_trains_on_identically(xp, backend_name, optimizer):
    rule = xpnn.optim.SGD(lr=0.05, momentum=0.9) if optimizer == "sgd_momentum" else xpnn.optim.Adam(lr=0.01)
    model, X, y = _trained_model(rule)
    twin = pickle.loads(pickle.dumps(model))
    assert backends_of(arrays_in(twin)) == {backend_name}
    np.testing.assert_array_equal(xpnn.to_numpy(twin.predict(X)), xpnn.to_numpy(model.predict(X)))
    assert twin.optimizer.state_dict()["param_steps"] == model.optimizer.state_dict()["param_steps"]
    for one in (model, twin):  # the moments, the step counts and the dropout stream carry on
        one.fit(X, y, epochs=1, batch_size=50, verbose=0, seed=1)
    for mine, theirs in zip(host(twin.get_weights()), host(model.get_weights())):
        np.testing.assert_array_equal(mine, theirs)
    assert twin.history.history == model.history.history


# ---------------------------------------------------------------- scikit-learn estimators

ESTIMATORS = {
    "adam, dropout, batch norm": lambda: MLPClassifier((8,), max_iter=5, random_state=0, dropout=0.2,
                                                       batch_norm=True, learning_rate_init=0.01),
    "sgd, early stopping": lambda: MLPClassifier((8,), solver="sgd", max_iter=6, random_state=0,
                                                 early_stopping=True, n_iter_no_change=50),
    "regressor, nesterov": lambda: MLPRegressor(hidden_layer_sizes=(8,), solver="sgd", max_iter=5, random_state=0,
                                                learning_rate_init=0.01, nesterovs_momentum=True),
}


@pytest.mark.parametrize("kind", ESTIMATORS)
def test_a_fitted_estimator_round_trips_and_partial_fit_goes_on_identically(xp, backend_name, kind):
    X, y = _iris()
    target = X[:, 0] + y if kind.startswith("regressor") else y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator = ESTIMATORS[kind]().fit(X, target)
    twin = pickle.loads(pickle.dumps(estimator))
    assert twin._backend_ == backend_name
    assert backends_of(arrays_in(trained_state(twin))) == {backend_name}
    predict = "predict_proba" if hasattr(estimator, "predict_proba") else "predict"
    np.testing.assert_array_equal(getattr(twin, predict)(X), getattr(estimator, predict)(X))
    for one in (estimator, twin):  # partial_fit refuses early stopping: a warm start goes on instead
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            one.set_params(warm_start=True).fit(X, target) if one.early_stopping else one.partial_fit(X, target)
    for mine, theirs in zip(twin.coefs_ + twin.intercepts_, estimator.coefs_ + estimator.intercepts_):
        np.testing.assert_array_equal(mine, theirs)
    assert twin.loss_curve_ == estimator.loss_curve_


def test_a_warm_started_lbfgs_estimator_goes_on_identically(xp):
    X, y = _iris()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator = MLPClassifier((8,), solver="lbfgs", max_iter=5, random_state=0, warm_start=True).fit(X, y)
        twin = pickle.loads(pickle.dumps(estimator))
        for one in (estimator, twin):
            one.fit(X, y)
    for mine, theirs in zip(twin.coefs_, estimator.coefs_):
        np.testing.assert_array_equal(mine, theirs)


# ---------------------------------------------------------------- between processes

_LOAD = """
import pickle, sys
import numpy as np
import xpnn
from xpnn.backend import backend_name_of, is_array, namespace_of
""" + inspect.getsource(arrays_in) + """
estimator = pickle.loads(sys.stdin.buffer.read())
state = arrays_in([estimator._network, estimator._solver, estimator._best_state])
print(xpnn.backend.name(), estimator._backend_, *sorted({backend_name_of(namespace_of(a=a)) for a in state}))
np.save(sys.argv[2], estimator.predict_proba(np.load(sys.argv[1])))
"""


@pytest.mark.once
@pytest.mark.parametrize("saved_on, loaded_on", [("numpy", "array_api_strict"), ("array_api_strict", "numpy")])
def test_a_pickle_loads_on_the_backend_of_the_process_that_unpickles(tmp_path, saved_on, loaded_on):
    pytest.importorskip("array_api_strict")
    X, y = _iris()
    with xpnn.use_backend(saved_on):
        estimator = MLPClassifier((8,), max_iter=5, random_state=0, dropout=0.1, early_stopping=True,
                                  n_iter_no_change=50)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(X, y)
    assert estimator._backend_ == saved_on and estimator._best_state is not None
    np.save(tmp_path / "X.npy", X)
    env = {**os.environ, "XPNN_BACKEND": loaded_on}
    out = subprocess.run([sys.executable, "-c", _LOAD, str(tmp_path / "X.npy"), str(tmp_path / "p.npy")],
                         input=pickle.dumps(estimator), env=env, capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.decode().split() == [loaded_on, loaded_on, loaded_on]
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), estimator.predict_proba(X))


def test_ops_and_the_numpy_namespace_unpickle_as_the_unpickling_processs_own(xp, backend_name):
    data = pickle.dumps([xpnn.backend.ops_for(xp), xpnn.backend.numpy_namespace()])
    with xpnn.use_backend("numpy"):
        ops, namespace = pickle.loads(data)
    assert namespace is xpnn.backend.numpy_namespace()
    assert ops is xpnn.backend.ops_for(namespace)  # its scratch memory stays in the process it belongs to
