"""scikit-learn estimators trained by xpnn: ``MLPClassifier`` and ``MLPRegressor``.

Drop-in replacements for ``sklearn.neural_network``'s, with the same parameters, fitted
attributes and methods, so they work in Pipeline, GridSearchCV and cross_val_score. With the
same ``random_state`` they start from the same weights and, on float64 data, follow scikit-learn's
loss curve to rounding. They train on xpnn's backend: CuPy arrays train on the GPU.

scikit-learn is an optional dependency: ``pip install "xpnn[sklearn]"``.
"""

try:
    import sklearn
except ImportError as error:  # exercised in a subprocess by the tests
    raise ImportError(
        "xpnn.sklearn needs scikit-learn, which is not installed: pip install \"xpnn[sklearn]\" "
        "(or pip install scikit-learn)"
    ) from error

_NEEDED = (1, 6)  # estimator tags (__sklearn_tags__) and validate_data
if tuple(int(part) for part in sklearn.__version__.split(".")[:2] if part.isdigit()) < _NEEDED:
    raise ImportError(f"xpnn.sklearn needs scikit-learn >= 1.6, found {sklearn.__version__}: "
                      "pip install -U \"xpnn[sklearn]\"")

from .estimators import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
