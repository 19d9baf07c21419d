"""MLPClassifier and MLPRegressor: scikit-learn's parameters, attributes and methods, trained by
xpnn on its active backend."""

from __future__ import annotations

from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import check_array, column_or_1d

from .. import backend
from ..backend import asarray, namespace_of, to_numpy
from .base import BaseMLP, device_namespace, keep_parameters, unchanged_on_error

_DOC_EXTRAS = """
    xpnn's own parameters, after scikit-learn's:

    - ``activation`` also takes any xpnn activation name ('gelu', 'silu', 'elu', 'leaky_relu', ...).
    - ``dropout``: the rate of a Dropout layer after each hidden activation (stochastic solvers).
    - ``batch_norm``: a BatchNorm layer between each hidden Dense layer and its activation.
    - ``clip_norm``: rescale the gradients so their global L2 norm is at most this.
    - ``backend``: 'auto' trains where the input arrays live (CuPy arrays on the GPU) and
      otherwise on xpnn's active backend (``XPNN_BACKEND``); or 'numpy', 'cupy', 'array_api_strict'.

    Predictions come back as NumPy arrays, or as device arrays when the input was one.

    A pickled estimator holds host copies of its weights and solver state; unpickling makes them
    on the unpickling process's active backend (``XPNN_BACKEND``, or ``with xpnn.use_backend``),
    where it then predicts and goes on training (``partial_fit``, ``warm_start``); ``backend``
    decides where a fit from scratch trains. ``copy.deepcopy`` keeps the arrays where they are.
"""


def _stochastic_solver(estimator) -> bool:
    if estimator.solver not in ("sgd", "adam"):
        raise AttributeError(f"partial_fit is only available for stochastic optimizers. {estimator.solver} "
                             "is not stochastic.")
    return True


def _host_targets(y, samples: int, where: str):
    """y as a host array, one row per sample (device labels are small: they are copied)."""
    if y is None:
        raise ValueError(f"{where} requires y to be passed, but the target y is None")
    if device_namespace(y) is not None:
        y = to_numpy(y)
    y = check_array(y, ensure_2d=False, dtype=None, input_name="y", accept_sparse=False)
    if y.shape[0] != samples:
        raise ValueError(f"Found input variables with inconsistent numbers of samples: [{samples}, {y.shape[0]}]")
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)
    return y


class MLPClassifier(ClassifierMixin, BaseMLP):
    __doc__ = ("Multi-layer perceptron classifier with scikit-learn's parameters and attributes "
               "(see sklearn.neural_network.MLPClassifier), trained by xpnn.\n" + _DOC_EXTRAS)

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False,
                 warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 max_fun=15000, dropout=0.0, batch_norm=False, clip_norm=None, backend="auto"):
        keep_parameters(self, locals())

    # -- training
    def fit(self, X, y, sample_weight=None):
        """Train from scratch (or from the current weights with ``warm_start=True``)."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(_stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y); ``classes`` (every label there will be) on the first call."""
        with unchanged_on_error(self):
            self._check_params()
            if self._first_partial_fit(y, classes):
                self._label_binarizer = LabelBinarizer()
                multilabel = type_of_target(y).startswith("multilabel")
                self._label_binarizer.fit(y if multilabel else classes)
                self.classes_ = self._label_binarizer.classes_
            return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def _first_partial_fit(self, y, classes) -> bool:
        if getattr(self, "classes_", None) is None and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if classes is None:
            return False
        if getattr(self, "classes_", None) is not None:
            if list(unique_labels(classes)) != list(self.classes_):
                raise ValueError(f"`classes={classes!r}` is not the same as on last call to partial_fit, "
                                 f"was: {self.classes_!r}")
            return False
        return True

    def _targets(self, y, samples, *, incremental, reset, scoring=False):
        y = _host_targets(y, samples, type(self).__name__)
        if not scoring:
            self._fit_or_check_classes(y, incremental)
        return asarray(self._label_binarizer.transform(y), dtype=self._dtype)

    def _fit_or_check_classes(self, y, incremental):
        """scikit-learn's rule: a fresh fit learns the classes, warm_start and partial_fit
        keep them and refuse labels they do not know."""
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError("warm_start can only be used where `y` has the same classes as in the "
                                     f"previous call to fit. Previously got {self.classes_}, `y` has {classes}")
            elif not set(classes) <= set(self.classes_):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                                 f"'y' has {classes}.")

    def _head_name(self) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _stratify_labels(self, Y):
        return to_numpy(Y) > 0.5 if self.n_outputs_ == 1 else None

    def _score_arrays(self, xp, X, Y, weight) -> float:
        z = self._outputs(X)
        if self.out_activation_ == "softmax":
            correct = xp.argmax(z, axis=1) == xp.argmax(Y, axis=1)
        else:
            correct = xp.all((self._head.output(xp, z) > 0.5) == (Y > 0.5), axis=1)
        correct = xp.astype(correct, X.dtype)
        if weight is None:
            return float(xp.mean(correct))
        return float(xp.sum(correct * weight[:, 0]) / xp.sum(weight))

    # -- inference
    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``."""
        z, on_device = self._raw_output(X)
        xp = namespace_of(z=z)
        p = self._head.output(xp, z)
        if self.n_outputs_ == 1:
            p = xp.concat([1.0 - p, p], axis=1)
        return self._host_or_device(p, on_device)

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        p = self.predict_proba(X)
        return namespace_of(p=p).log(p)

    def predict(self, X):
        """The predicted class of each sample (an indicator row per sample for multilabel y)."""
        z, on_device = self._raw_output(X)
        xp = namespace_of(z=z)
        p = self._head.output(xp, z)
        if not on_device:
            p = to_numpy(p)
            return self._label_binarizer.inverse_transform(p[:, 0] if self.n_outputs_ == 1 else p)
        if self._label_binarizer.y_type_.startswith("multilabel"):
            return xp.astype(p > 0.5, xp.int64)
        index = xp.argmax(p, axis=1) if self.n_outputs_ > 1 else xp.astype(p[:, 0] > 0.5, xp.int64)
        return self._labels_of(xp, index)

    def _labels_of(self, xp, index):
        """The class labels of class indices computed on the device: a device array where the
        labels are numbers; a NumPy array where they are strings or other objects, which no
        device array can hold (one transfer of the indices, at the end of predict)."""
        if self.classes_.dtype.kind in "biuf":
            with backend.use_backend(self._backend_):
                return xp.take(asarray(self.classes_), index, axis=0)
        return self.classes_[to_numpy(index)]

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of ``predict(X)`` against y (subset accuracy for multilabel y)."""
        return self._score_anywhere(X, y, sample_weight, super().score)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, BaseMLP):
    __doc__ = ("Multi-layer perceptron regressor with scikit-learn's parameters and attributes "
               "(see sklearn.neural_network.MLPRegressor), trained by xpnn. ``loss`` is "
               "'squared_error' (half the mean squared error) or 'poisson' (half the Poisson "
               "deviance, with an exponential output).\n" + _DOC_EXTRAS)

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001,
                 power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False,
                 warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 max_fun=15000, dropout=0.0, batch_norm=False, clip_norm=None, backend="auto"):
        keep_parameters(self, locals())

    def _check_params(self):
        if self.loss not in ("squared_error", "poisson"):
            raise ValueError(f"MLPRegressor: loss must be 'squared_error' or 'poisson', got {self.loss!r}")
        return super()._check_params()

    def fit(self, X, y, sample_weight=None):
        """Train from scratch (or from the current weights with ``warm_start=True``)."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(_stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y)."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def _targets(self, y, samples, *, incremental, reset, scoring=False):
        where = type(self).__name__
        if y is None:
            raise ValueError(f"{where} requires y to be passed, but the target y is None")
        if device_namespace(y) is not None:
            xp = namespace_of(y=y)
            if y.ndim not in (1, 2) or y.shape[0] != samples:
                raise ValueError(f"{where}: y must have {samples} rows (1-D or 2-D), got shape {tuple(y.shape)}")
            if not bool(xp.all(xp.isfinite(xp.astype(y, xp.float64)))):
                raise ValueError(f"{where}: y contains NaN or infinity")
        else:
            y = check_array(y, ensure_2d=False, dtype="numeric", input_name="y")
            if y.shape[0] != samples:
                raise ValueError(f"Found input variables with inconsistent numbers of samples: [{samples}, {y.shape[0]}]")
            if y.ndim == 2 and y.shape[1] == 1:
                y = column_or_1d(y, warn=True)
        Y = asarray(y, dtype=self._dtype)
        xp = namespace_of(Y=Y)
        Y = xp.reshape(Y, (samples, -1)) if Y.ndim == 1 else Y
        if not scoring and self.loss == "poisson" and bool(xp.any(Y < 0)):
            raise ValueError(f"{where}: loss='poisson' needs y >= 0")
        if not scoring and not reset and Y.shape[1] != self.n_outputs_:
            raise ValueError(f"{where}: y has {Y.shape[1]} outputs, the fitted model {self.n_outputs_}")
        return Y

    def _head_name(self) -> str:
        return "exp" if self.loss == "poisson" else "identity"

    def _stratify_labels(self, Y):
        return None

    def _score_arrays(self, xp, X, Y, weight) -> float:
        p = self._head.output(xp, self._outputs(X))
        if not bool(xp.all(xp.isfinite(p))):
            return float("nan")
        w = xp.ones((X.shape[0], 1), dtype=X.dtype) if weight is None else weight
        residual = xp.sum(w * (Y - p) ** 2, axis=0)
        mean = xp.sum(w * Y, axis=0) / xp.sum(w)
        spread = xp.sum(w * (Y - mean) ** 2, axis=0)
        # scikit-learn's force_finite: a constant target scores 1 if fitted exactly, else 0
        ones, zeros = xp.ones_like(spread), xp.zeros_like(spread)
        perfect = xp.where(residual == 0, ones, zeros)
        r2 = xp.where(spread == 0, perfect, 1.0 - residual / xp.where(spread == 0, ones, spread))
        return float(xp.mean(r2))

    def predict(self, X):
        """Predicted values: shape (samples,) for one output, (samples, n_outputs) otherwise."""
        z, on_device = self._raw_output(X)
        xp = namespace_of(z=z)
        p = self._head.output(xp, z)
        if self.n_outputs_ == 1:
            p = xp.reshape(p, (-1,))
        return self._host_or_device(p, on_device)

    def score(self, X, y, sample_weight=None):
        """R^2 of ``predict(X)`` against y."""
        return self._score_anywhere(X, y, sample_weight, super().score)
