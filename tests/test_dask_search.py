"""A scikit-learn grid search spread over a Dask cluster (joblib's "dask" backend) gives the
search that runs in one process, and each worker computes on the backend its own
``XPNN_BACKEND`` names (README, "Hyper-parameter search on a cluster")."""

import contextlib
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
try:
    import distributed
except ImportError:
    pytest.skip('dask.distributed is not installed (pip install "xpnn[dask]")', allow_module_level=True)

import joblib  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

import xpnn  # noqa: E402
from xpnn.datasets import load_iris  # noqa: E402
from xpnn.sklearn import MLPClassifier  # noqa: E402

pytestmark = [pytest.mark.once, pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")]

GRID = {"hidden_layer_sizes": [(4,), (16,)], "alpha": [1e-4, 1.0]}


def trained_on_strict(estimator, X, y) -> float:
    """A scorer that reports where the fit it scores ran: 1.0 on array_api_strict."""
    return float(estimator._backend_ == "array_api_strict")


def backend_name() -> str:
    return xpnn.backend.name()


def executed_count(dask_worker) -> int:
    return dask_worker.state.executed_count


def _search(**options):
    estimator = MLPClassifier(max_iter=30, random_state=0, dropout=0.1, learning_rate_init=0.01)
    scoring = {"accuracy": "accuracy", "neg_log_loss": "neg_log_loss", **options.pop("scoring", {})}
    return GridSearchCV(estimator, GRID, cv=3, scoring=scoring, refit="neg_log_loss", error_score="raise",
                        **options)


@pytest.fixture(scope="module")
def data():
    X, y = load_iris(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


@pytest.fixture(scope="module")
def serial(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return _search(n_jobs=1).fit(*data)


@contextlib.contextmanager
def cluster(**options):
    """A two-process LocalCluster and its Client, both closed on the way out (the workers are
    child processes: none outlives the test)."""
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                                  **options) as local, distributed.Client(local) as client:
        yield client


def assert_same_search(search, serial, X):
    scores = [key for key in serial.cv_results_ if key.startswith(("split", "mean_test", "std_test", "rank_test"))]
    assert len(scores) == 2 * (3 + 3)  # two scorers, three splits, mean, std and rank each
    for key in scores:
        np.testing.assert_array_equal(search.cv_results_[key], serial.cv_results_[key], err_msg=key)
    assert search.best_params_ == serial.best_params_ and search.best_score_ == serial.best_score_
    np.testing.assert_array_equal(search.predict_proba(X), serial.predict_proba(X))


def test_a_grid_search_on_a_dask_cluster_equals_the_search_in_one_process(data, serial):
    with cluster() as client, joblib.parallel_backend("dask"):
        search = _search().fit(*data)
        executed = client.run(executed_count)
    assert sum(executed.values()) >= 2 * 2 * 3  # every fit ran on a worker (4 candidates, 3 folds)
    assert_same_search(search, serial, data[0])


def test_each_worker_computes_on_the_backend_its_own_xpnn_backend_names(data, serial):
    pytest.importorskip("array_api_strict")
    with cluster(env={"XPNN_BACKEND": "array_api_strict"}) as client, joblib.parallel_backend("dask"):
        workers = list(client.scheduler_info()["workers"])
        names = [client.submit(backend_name, pure=False, workers=[w]).result() for w in workers]
        search = _search(scoring={"trained_on_strict": trained_on_strict}).fit(*data)
    assert names == ["array_api_strict", "array_api_strict"]
    np.testing.assert_array_equal(search.cv_results_["mean_test_trained_on_strict"], 1.0)
    assert_same_search(search, serial, data[0])  # strict workers give NumPy's numbers bit for bit
