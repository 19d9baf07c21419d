"""``Perceptron``: Rosenblatt's single neuron with a step activation and its learning rule.

The oldest learning machine (Rosenblatt, "The perceptron: a probabilistic model for information
storage and organization in the brain", Psychological Review 65, 1958), as the founding notes'
chapter "Neural Networks Fundamentals" states it: ``ŷ = step(w·x + b)`` with ``step(z) = 1``
for ``z >= 0`` and 0 below, and on each misclassified sample ``w += lr·(y - ŷ)·x``,
``b += lr·(y - ŷ)``, epochs over the data until an epoch makes no mistake. On linearly
separable data this stops after finitely many mistakes (Novikoff, 1962); on XOR it never does.

A small estimator with scikit-learn's names (``fit``, ``predict``, ``score``,
``decision_function``, ``coef_``, ``intercept_``, ``classes_``, ``n_iter_``, ``get_params``,
``set_params``) that does not need scikit-learn. With ``shuffle=False`` its weights equal those of
``sklearn.linear_model.Perceptron(penalty=None, alpha=0, eta0=eta0, shuffle=False, tol=None)``
(tests/test_perceptron.py checks it).
"""

from __future__ import annotations

import warnings

from ..backend import namespace_of, rng as host_rng
from ..utils.validation import check_bool, check_int, check_number, check_seed
from . import data


class ConvergenceWarning(UserWarning):
    """The perceptron rule ran ``max_iter`` epochs and still made mistakes: the data is not
    linearly separable (XOR), or needs more epochs. scikit-learn's warning has the same name."""


class Perceptron:
    """A binary linear classifier trained by the perceptron learning rule.

    Parameters (checked here and again by ``fit``; a bad one raises TypeError or ValueError
    naming it):

    - ``max_iter``: at most this many epochs (passes over the data), int >= 1.
    - ``eta0``: the learning rate ``lr`` of the rule, a number > 0. With zero initial weights
      it only scales ``w`` and ``b`` (the predictions do not depend on it).
    - ``fit_intercept``: learn the bias ``b`` (else it stays 0).
    - ``shuffle``: visit the samples in a new random order each epoch (drawn on the host from
      ``random_state``: None, or an int >= 0 for the same order on every run and backend).

    ``fit(X, y)``: ``X`` (samples, features), ``y`` (samples,) with exactly two distinct numeric
    labels; the larger one is the positive class (``classes_[1]``, target 1 of the rule).
    Weights start at zero. A sample counts as a mistake when its margin ``±(w·x + b)`` is not
    positive (a point on the boundary included, as in scikit-learn and Novikoff's proof), so a
    converged perceptron leaves every training sample strictly on its side. Training stops at
    the first epoch without mistakes (``converged_ = True``) or after ``max_iter`` epochs with a
    ``ConvergenceWarning`` (``converged_ = False``). The mistake count is read from the device
    once per epoch; the per-sample updates are array operations that never wait for it.

    Fitted attributes: ``coef_`` (1, features), ``intercept_`` (1,), ``classes_`` (2,), on the
    backend of the data; ``n_iter_`` (epochs run), ``n_features_in_``, ``converged_``,
    ``mistakes_`` (mistakes per epoch, a list of ints).

    ``predict(X)`` is ``classes_[step(w·x + b)]`` (so a point exactly on the boundary goes to
    ``classes_[1]``, as the step function says; scikit-learn sends it to ``classes_[0]``).
    """

    def __init__(self, *, max_iter: int = 1000, eta0: float = 1.0, fit_intercept: bool = True,
                 shuffle: bool = True, random_state=0):
        # stored as given (scikit-learn's clone compares them by identity), checked now so a
        # bad value fails where it was written
        self.max_iter, self.eta0, self.fit_intercept = max_iter, eta0, fit_intercept
        self.shuffle, self.random_state = shuffle, random_state
        self._checked_params()

    # ---------------------------------------------------------------- parameters

    _PARAMS = ("eta0", "fit_intercept", "max_iter", "random_state", "shuffle")

    def get_params(self, deep: bool = True) -> dict:
        """The constructor's arguments by name (scikit-learn's estimator protocol)."""
        return {name: getattr(self, name) for name in self._PARAMS}

    def set_params(self, **params) -> "Perceptron":
        """Set constructor arguments by name; an unknown name or a bad value raises (ValueError
        or TypeError naming it) and leaves the estimator unchanged."""
        unknown = sorted(set(params) - set(self._PARAMS))
        if unknown:
            raise ValueError(f"Perceptron.set_params: unknown parameter {unknown[0]!r}; valid ones: "
                             f"{', '.join(self._PARAMS)}")
        old = self.get_params()
        for name, value in params.items():
            setattr(self, name, value)
        try:
            self._checked_params()
        except (TypeError, ValueError):
            for name, value in old.items():
                setattr(self, name, value)
            raise
        return self

    def _checked_params(self):
        where = "Perceptron"
        return (check_int(self.max_iter, "max_iter", where, minimum=1),
                check_number(self.eta0, "eta0", where, low=0, low_open=True),
                check_bool(self.fit_intercept, "fit_intercept", where),
                check_bool(self.shuffle, "shuffle", where),
                check_seed(self.random_state, "random_state", where))

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.get_params().items() if v != Perceptron._DEFAULTS[k]}
        return f"Perceptron({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    _DEFAULTS = {"max_iter": 1000, "eta0": 1.0, "fit_intercept": True, "shuffle": True, "random_state": 0}

    # ---------------------------------------------------------------- training

    def fit(self, X, y) -> "Perceptron":
        """Train from zero weights by the perceptron rule; returns self. Raises ValueError for
        X not (samples, features), y not (samples,) or without exactly two labels, NaN or
        infinity in either; TypeError for non-numeric data."""
        where = "Perceptron.fit"
        max_iter, eta0, fit_intercept, shuffle, random_state = self._checked_params()
        X = self._features(X, where)
        xp = namespace_of(X=X)
        labels = data._on_backend(y, "y", where)
        labels = labels if namespace_of(y=labels) is xp else xp.asarray(labels)
        if labels.ndim != 1 or labels.shape[0] != X.shape[0]:
            raise ValueError(f"{where}: y must have shape ({X.shape[0]},), one label per sample of X, "
                             f"got shape {tuple(labels.shape)}")
        if not xp.isdtype(labels.dtype, ("integral", "real floating", "bool")):
            raise TypeError(f"{where}: y must hold numeric labels, got dtype {labels.dtype}")
        if xp.isdtype(labels.dtype, "real floating") and not bool(xp.all(xp.isfinite(labels))):
            raise ValueError(f"{where}: y contains NaN or infinite labels; remove those samples first")
        classes = xp.sort(xp.unique_values(labels))
        if classes.shape[0] != 2:
            raise ValueError(f"{where}: y must hold exactly two distinct labels (a binary problem), got "
                             f"{classes.shape[0]}: {[float(c) for c in classes[:min(5, classes.shape[0])]]}")

        # the rule with 0/1 targets t and predictions ŷ updates by lr·(t - ŷ) = ±lr on a
        # mistake: the ±1 sign of the target is all the rule needs
        sign = xp.where(labels == classes[1], xp.ones((), dtype=X.dtype), -xp.ones((), dtype=X.dtype))
        n, features = X.shape
        w = xp.zeros((features,), dtype=X.dtype)
        b = xp.zeros((), dtype=X.dtype)
        generator = host_rng(random_state) if shuffle else None
        mistakes_per_epoch = []
        for _ in range(max_iter):
            if generator is not None:
                order = xp.asarray(generator.permutation(n))
                X_epoch, sign_epoch = xp.take(X, order, axis=0), xp.take(sign, order, axis=0)
            else:
                X_epoch, sign_epoch = X, sign
            mistakes = xp.zeros((), dtype=X.dtype)
            for i in range(n):
                x_i, s_i = X_epoch[i, :], sign_epoch[i]
                # a mistake as a 0/1 number, not a Python if: the GPU never waits for it
                wrong = xp.astype(s_i * (xp.sum(w * x_i) + b) <= 0, X.dtype)
                step = eta0 * wrong * s_i
                w = w + step * x_i
                if fit_intercept:
                    b = b + step
                mistakes = mistakes + wrong
            mistakes_per_epoch.append(int(mistakes))  # the one host read of the epoch
            if mistakes_per_epoch[-1] == 0:
                break
        self.coef_ = xp.reshape(w, (1, features))
        self.intercept_ = xp.reshape(b, (1,))
        self.classes_ = classes
        self.n_features_in_ = features
        self.n_iter_ = len(mistakes_per_epoch)
        self.mistakes_ = mistakes_per_epoch
        self.converged_ = mistakes_per_epoch[-1] == 0
        if not self.converged_:
            warnings.warn(
                f"Perceptron: the last of max_iter={max_iter} epochs still made {mistakes_per_epoch[-1]} "
                f"mistakes in its pass over the {n} samples (each corrected as it came, so the final "
                "weights may get more or fewer right); the classes are not linearly separable (as XOR's are), "
                "or need more epochs: a network with a hidden layer can separate them",
                ConvergenceWarning, stacklevel=2)
        return self

    # ---------------------------------------------------------------- using it

    def decision_function(self, X):
        """``w·x + b`` for each sample: shape (samples,), positive on ``classes_[1]``'s side."""
        X = self._features(X, "Perceptron.decision_function", fitted=True)
        xp = namespace_of(X=X)
        coef = self.coef_ if namespace_of(coef=self.coef_) is xp else xp.asarray(self.coef_)
        intercept = self.intercept_ if namespace_of(b=self.intercept_) is xp else xp.asarray(self.intercept_)
        return X @ coef[0, :] + intercept[0]

    def predict(self, X):
        """The label of each sample, shape (samples,): ``classes_[1]`` where ``w·x + b >= 0``."""
        z = self.decision_function(X)
        xp = namespace_of(z=z)
        classes = self.classes_ if namespace_of(c=self.classes_) is xp else xp.asarray(self.classes_)
        return xp.take(classes, xp.astype(z >= 0, xp.int64))

    def score(self, X, y) -> float:
        """The fraction of samples whose predicted label equals ``y`` (accuracy), a float."""
        predicted = self.predict(X)
        xp = namespace_of(predicted=predicted)
        y = data._on_backend(y, "y", "Perceptron.score")
        y = y if namespace_of(y=y) is xp else xp.asarray(y)
        if tuple(y.shape) != tuple(predicted.shape):
            raise ValueError(f"Perceptron.score: y must have shape {tuple(predicted.shape)}, one label per "
                             f"sample of X, got shape {tuple(y.shape)}")
        return float(xp.mean(xp.astype(predicted == y, xp.float64)))

    def _features(self, X, where, fitted=False):
        if fitted and not hasattr(self, "coef_"):
            raise ValueError(f"{where}: this Perceptron is not fitted yet; call fit(X, y) first")
        array = data._on_backend(X, "X", where)
        xp = namespace_of(X=array)
        # floats keep their precision; integer or boolean features are computed in float64
        dtype = array.dtype if xp.isdtype(array.dtype, "real floating") else "float64"
        array = data.features(array, "X", where, dtype)
        if array.ndim != 2:
            raise ValueError(f"{where}: X must have shape (samples, features), got shape {tuple(array.shape)}")
        if fitted and array.shape[1] != self.n_features_in_:
            raise ValueError(f"{where}: X has {array.shape[1]} features, but this Perceptron was fitted "
                             f"with {self.n_features_in_}")
        return array


__all__ = ["ConvergenceWarning", "Perceptron"]
