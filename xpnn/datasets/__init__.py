"""Data to learn from, offline: bundled real data sets, toy-problem generators, file loaders.

- Bundled (shipped inside the package, no download): ``load_iris()``, ``load_digits()``.
- Generated: ``make_xor``, ``make_spirals``, ``make_moons``, ``make_regression_1d``.
- Your files: ``load_csv(path, target)``, ``load_npz(path, X="X", y="y")``.

Loaders return a ``Dataset`` (``X``, ``y``, ``feature_names``, ``target_names``,
``description``), or ``(X, y)`` with ``return_X_y=True``; generators return ``(X, y)``. The
arrays are host NumPy arrays (float64 features, int64 class labels), as in scikit-learn;
``model.fit`` moves them to the active backend::

    from xpnn.datasets import load_iris
    X, y = load_iris(return_X_y=True)
    model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=100)
"""

from .bundled import DATA_FILES, data_file, load_digits, load_iris
from .dataset import Dataset
from .files import load_csv, load_npz
from .generators import (
    REGRESSION_FUNCTIONS, make_moons, make_regression_1d, make_spirals, make_xor,
)

__all__ = [
    "Dataset", "load_iris", "load_digits", "DATA_FILES", "data_file",
    "make_xor", "make_spirals", "make_moons", "make_regression_1d", "REGRESSION_FUNCTIONS",
    "load_csv", "load_npz",
]
