"""What MLPClassifier and MLPRegressor share: hyper-parameter checks, input handling on any
backend, initialisation, the stochastic loop and L-BFGS, all following scikit-learn's MLP.

The loop draws from the same NumPy RandomState in the same order as scikit-learn (initial
weights, the early-stopping split, each epoch's shuffle), and its update rules are scikit-learn's
(``solvers``), so with the same ``random_state`` on float64 data the loss curve is
scikit-learn's to rounding. The arrays live on the estimator's backend; only the per-epoch
loss (and the validation score with early stopping) is read back to the host.
"""

from __future__ import annotations

import math
import numbers
import warnings

from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import backend
from ..backend import BackendError, asarray, copy_of, is_array, namespace_of, portable, to_numpy, unwrapped
from ..optim import LBFGS, clip_global_norm
from ..training import forward_backward
from ..utils.validation import check_choice, check_int, check_number
from .network import HEADS, HeadLoss, build_network, dense_layers, hidden_activation
from .solvers import AdamSolver, SGDSolver



class BaseMLP(BaseEstimator):
    """Shared machinery; subclasses define ``__init__`` (scikit-learn reads the parameters
    from its signature), ``_targets`` and ``_head_name``."""

    # ------------------------------------------------------------------ parameter checks
    def _check_params(self) -> list[int]:
        """Every hyper-parameter, checked before any work; returns the hidden layer sizes.
        Raises ValueError for any bad value or type, as scikit-learn's estimators do."""
        try:
            return self._checked_hyper_parameters()
        except TypeError as error:
            raise ValueError(str(error)) from None

    def _checked_hyper_parameters(self) -> list[int]:
        where = type(self).__name__
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, numbers.Integral) else sizes
        try:
            sizes = list(sizes)
        except TypeError:
            raise ValueError(f"{where}: hidden_layer_sizes must be an int or a sequence of ints, "
                             f"got {self.hidden_layer_sizes!r}") from None
        if any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s <= 0 for s in sizes):
            raise ValueError(f"{where}: hidden_layer_sizes must be positive ints, got {self.hidden_layer_sizes!r}")
        try:
            hidden_activation(self.activation)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{where}: activation: {error}") from None
        check_choice(self.solver, "solver", where, ("lbfgs", "sgd", "adam"))
        check_choice(self.learning_rate, "learning_rate", where, ("constant", "invscaling", "adaptive"))
        if self.batch_size != "auto":
            check_int(self.batch_size, "batch_size", where, minimum=1, or_else=" or 'auto'")
        check_number(self.alpha, "alpha", where, low=0.0)
        check_number(self.learning_rate_init, "learning_rate_init", where, low=0.0, low_open=True)
        check_number(self.power_t, "power_t", where, low=0.0)
        check_int(self.max_iter, "max_iter", where, minimum=1)
        check_int(self.max_fun, "max_fun", where, minimum=1)
        check_number(self.tol, "tol", where, low=0.0)
        check_number(self.momentum, "momentum", where, low=0.0, high=1.0)
        check_number(self.validation_fraction, "validation_fraction", where, low=0.0, high=1.0, high_open=True)
        check_number(self.beta_1, "beta_1", where, low=0.0, high=1.0, high_open=True)
        check_number(self.beta_2, "beta_2", where, low=0.0, high=1.0, high_open=True)
        check_number(self.epsilon, "epsilon", where, low=0.0, low_open=True)
        if self.n_iter_no_change != math.inf:
            check_int(self.n_iter_no_change, "n_iter_no_change", where, minimum=1, or_else=" or math.inf")
        for flag in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping", "batch_norm"):
            if not isinstance(getattr(self, flag), (bool, numbers.Integral)):
                raise ValueError(f"{where}: {flag} must be True or False, got {getattr(self, flag)!r}")
        check_number(self.dropout, "dropout", where, low=0.0, high=1.0, high_open=True)
        if self.clip_norm is not None:
            check_number(self.clip_norm, "clip_norm", where, low=0.0, low_open=True)
        check_choice(self.backend, "backend", where, backend.BACKEND_NAMES)
        if self.solver == "lbfgs" and self.dropout:
            raise ValueError(f"{where}: dropout={self.dropout} needs a stochastic solver ('adam' or 'sgd'): "
                             "L-BFGS's line search needs the same loss at every evaluation")
        return sizes

    # ------------------------------------------------------------------ backends and inputs
    def _backend_for(self, X, *, reset: bool) -> str:
        if not reset:
            return self._backend_
        if self.backend != "auto":
            return self.backend
        native = device_namespace(X)
        return backend.backend_name_of(native) if native is not None else backend.name()

    def _features(self, X, *, reset: bool):
        """(X on the active backend, float32 or float64; whether X came as a device array)."""
        where = type(self).__name__
        if device_namespace(X) is None:
            X = validate_data(self, X, accept_sparse=["csr", "csc"], dtype=("float64", "float32"), reset=reset)
            if hasattr(X, "toarray"):  # scipy.sparse: kept on the host, densified a block of rows at a time
                return SparseRows(X, getattr(self, "_dtype", None) or backend.dtype_name(X.dtype)), False
            return self._on_backend(X), False
        return self._device_features(X, reset, where), True

    def _device_features(self, X, reset, where):
        xp = namespace_of(X=X)
        if X.ndim != 2:
            raise ValueError(f"{where}: X must be 2-D (samples, features), got shape {tuple(X.shape)}")
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"{where}: X has shape {tuple(X.shape)}; it needs at least one sample and one feature")
        if X.dtype not in (xp.float32, xp.float64):
            if not xp.isdtype(X.dtype, ("integral", "bool")):
                raise ValueError(f"{where}: X must hold real numbers, got dtype {X.dtype}")
            X = xp.astype(X, xp.float64)
        if not bool(xp.all(xp.isfinite(X))):
            raise ValueError(f"{where}: X contains NaN or infinity")
        if reset:
            self.n_features_in_ = X.shape[1]
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {where} is expecting {self.n_features_in_} "
                             "features as input.")
        return self._on_backend(X)

    def _on_backend(self, X):
        """X moved to the estimator's backend in the network's dtype (the data's on a first fit)."""
        dtype = getattr(self, "_dtype", None) or backend.dtype_name(X.dtype)
        return asarray(X, dtype=dtype)

    def _weights(self, sample_weight, X, samples):
        """sample_weight as a (samples, 1) column on the backend, or None; checked first."""
        if sample_weight is None:
            return None
        xp = backend.namespace()
        where = type(self).__name__
        if isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, bool):
            sample_weight = [float(sample_weight)] * samples
        try:
            weight = asarray(sample_weight, dtype=backend.dtype_name(X.dtype))
        except (TypeError, ValueError) as error:
            raise ValueError(f"{where}: sample_weight must be numbers, one per sample: {error}") from None
        if weight.ndim != 1 or weight.shape[0] != samples:
            raise ValueError(f"{where}: sample_weight.shape == {tuple(weight.shape)}, expected ({samples},)")
        if not bool(xp.all(xp.isfinite(weight))):
            raise ValueError(f"{where}: sample_weight contains NaN or infinity")
        if bool(xp.any(weight < 0)):
            raise ValueError(f"{where}: sample_weight must be >= 0")
        if not bool(xp.any(weight > 0)):
            raise ValueError(f"{where}: sample weights must contain at least one non-zero number")
        return xp.reshape(weight, (samples, 1))

    # ------------------------------------------------------------------ fitting
    def _fit(self, X, y, sample_weight=None, incremental=False):
        with unchanged_on_error(self):
            return self._checked_fit(X, y, sample_weight, incremental)

    def _checked_fit(self, X, y, sample_weight, incremental):
        hidden = self._check_params()
        first_pass = not hasattr(self, "_network") or (not self.warm_start and not incremental)
        name = self._backend_for(X, reset=first_pass)
        try:
            scope = backend.use_backend(name)
        except BackendError as error:
            raise ValueError(f"{type(self).__name__}: backend: {error}") from None
        with scope as xp:
            if first_pass:
                self._dtype = None
            X, _ = self._features(X, reset=first_pass)
            self._dtype = backend.dtype_name(X.dtype)
            Y = self._targets(y, X.shape[0], incremental=incremental, reset=first_pass)
            weight = self._weights(sample_weight, X, X.shape[0])
            self._random_state = check_random_state(self.random_state)
            if first_pass:
                self._initialize(X, Y, hidden, name)
            self._head = HEADS[self.out_activation_]
            self._parameters = self._network.parameters()
            self._dense_layers = dense_layers(self._network)
            self._training_started = True
            if self.solver == "lbfgs":
                self._fit_lbfgs(xp, X, Y, weight)
            else:
                self._fit_stochastic(xp, X, Y, weight, incremental)
            if not all(bool(xp.all(xp.isfinite(p.value))) for p in self._parameters):
                raise ValueError("Solver produced non-finite parameter weights. The input data may contain "
                                 "large values and need to be preprocessed.")
        return self

    def _initialize(self, X, Y, hidden, backend_name):
        self._backend_ = backend_name
        self.n_outputs_ = Y.shape[1]
        layer_units = [X.shape[1], *hidden, self.n_outputs_]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._head_name()
        self.n_iter_ = 0
        self.t_ = 0
        self._network = build_network(layer_units, self.activation, self._random_state, self._dtype,
                                      dropout=float(self.dropout), batch_norm=bool(self.batch_norm))
        self._solver = None
        if self.solver != "lbfgs":
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -math.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = math.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None
        self._best_state = None

    def _objective(self, xp, X, Y, weight):
        """The penalised loss of (X, Y) as a 0-d array, with every gradient in Parameter.grad:
        the training step's forward and backward (``xpnn.training.forward_backward``), with
        the output head as the loss and scikit-learn's L2 term added."""
        weight_sum = X.shape[0] if weight is None else xp.sum(weight)
        if isinstance(X, SparseRows):
            loss = self._sparse_objective(xp, X, Y, weight, weight_sum)
        else:
            _, loss = forward_backward(self._network, HeadLoss(self._head, xp, weight, weight_sum), X, Y,
                                       self._parameters)
        alpha = float(self.alpha)  # a NumPy scalar would not mix with array_api_strict's arrays
        if alpha:
            # scikit-learn's L2 term: alpha / 2 * sum of squared weights (not biases) per weight unit
            for dense in self._dense_layers:
                w = dense.weight.value
                loss = loss + (0.5 * alpha) * xp.sum(w * w) / weight_sum
                dense.weight.grad = dense.weight.grad + (alpha / weight_sum) * w
        return loss

    def _sparse_objective(self, xp, X, Y, weight, weight_sum):
        """The data term of ``_objective`` for sparse X (L-BFGS's full batch), a block of rows
        at a time: the head's sums are over weight_sum, so the blocks' losses and gradients add
        up to the whole set's. With BatchNorm the statistics need every row at once."""
        step = X.shape[0] if self.batch_norm else X.rows_per_block()
        loss, grads = 0.0, None
        for start in range(0, X.shape[0], step):
            stop = min(start + step, X.shape[0])
            w = None if weight is None else weight[start:stop, ...]
            _, part = forward_backward(self._network, HeadLoss(self._head, xp, w, weight_sum), X.block(start, stop),
                                       Y[start:stop, ...], self._parameters)
            loss = loss + part
            current = [p.grad for p in self._parameters]
            grads = current if grads is None else [a if b is None else b if a is None else a + b
                                                   for a, b in zip(grads, current)]
        for p, g in zip(self._parameters, grads):
            p.grad = g
        return loss

    def _outputs(self, X):
        """The network's output for every row of X (a device array, or SparseRows a block at a
        time), in inference mode."""
        if not isinstance(X, SparseRows):
            return self._network(X)
        step = X.rows_per_block()
        blocks = [self._network(X.block(start, min(start + step, X.shape[0]))) for start in range(0, X.shape[0], step)]
        return blocks[0] if len(blocks) == 1 else namespace_of(z=blocks[0]).concat(blocks, axis=0)

    def _gradients(self, xp, params):
        grads = [p.grad if p.grad is not None else xp.zeros_like(p.value) for p in params]
        return grads if self.clip_norm is None else clip_global_norm(grads, float(self.clip_norm))

    def _new_solver(self, params):
        if self.solver == "sgd":
            return SGDSolver(params, float(self.learning_rate_init), self.learning_rate, float(self.momentum),
                             bool(self.nesterovs_momentum), float(self.power_t))
        return AdamSolver(params, float(self.learning_rate_init), float(self.beta_1), float(self.beta_2),
                          float(self.epsilon))

    def _fit_stochastic(self, xp, X, Y, weight, incremental):
        params = [p for p in self._parameters if p.trainable]
        if not incremental or self._solver is None:
            self._solver = self._new_solver(params)
        solver = self._solver
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        X_train, Y_train, w_train, validation = X, Y, weight, None
        if self.early_stopping:
            X_train, Y_train, w_train, validation = self._split_validation(xp, X, Y, weight)
        samples = X_train.shape[0]
        batch = self._batch_size(samples)
        bounds = self._batch_bounds(samples, batch)
        host = backend.host_namespace()
        sample_idx = host.arange(samples)
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if self.shuffle:
                    # what sklearn.utils.shuffle does, without its per-call argument checks
                    permutation = host.arange(samples)
                    self._random_state.shuffle(permutation)
                    sample_idx = sample_idx[permutation]
                    order = asarray(sample_idx)
                loss_sum = 0.0
                for start, stop in bounds:
                    if self.shuffle:
                        rows = order[start:stop]
                        xb = (X_train.rows(sample_idx[start:stop]) if isinstance(X_train, SparseRows)
                              else xp.take(X_train, rows, axis=0))
                        yb = xp.take(Y_train, rows, axis=0)
                        wb = None if w_train is None else xp.take(w_train, rows, axis=0)
                    else:
                        xb = X_train.block(start, stop) if isinstance(X_train, SparseRows) else X_train[start:stop, ...]
                        yb = Y_train[start:stop, ...]
                        wb = None if w_train is None else w_train[start:stop, ...]
                    loss = self._objective(xp, xb, yb, wb)
                    solver.update(xp, self._gradients(xp, params))
                    loss_sum = loss_sum + loss * (stop - start)
                self.n_iter_ += 1
                self.loss_ = float(loss_sum) / samples  # the one host read of the epoch
                self.t_ += samples
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
                self._update_no_improvement_count(xp, validation)
                solver.iteration_ends(self.t_)
                if self._no_improvement_count > self.n_iter_no_change:
                    what = "Validation score" if self.early_stopping else "Training loss"
                    stop, action = solver.trigger_stopping()
                    if self.verbose:
                        print(f"{what} did not improve more than tol={self.tol:f} for "
                              f"{self.n_iter_no_change} consecutive epochs. {action}")
                    if stop:
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and "
                                  "the optimization hasn't converged yet.", ConvergenceWarning, stacklevel=4)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=4)
        if self.early_stopping and self._best_state is not None:
            for p, best in zip(self._parameters, self._best_state):
                p.value[...] = best

    def _batch_size(self, samples: int) -> int:
        if self.batch_size == "auto":
            return min(200, samples)
        if self.batch_size > samples:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
                          stacklevel=5)
        return min(max(int(self.batch_size), 1), samples)

    def _batch_bounds(self, samples, batch):
        bounds = [(s.start, s.stop) for s in gen_batches(samples, batch)]
        if self.batch_norm and len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
            # BatchNorm cannot normalise one sample: it joins the batch before it
            bounds[-2:] = [(bounds[-2][0], samples)]
        if self.batch_norm and samples == 1:
            raise ValueError(f"{type(self).__name__}: batch_norm=True cannot train on 1 sample: BatchNorm needs at least 2")
        return bounds

    def _split_validation(self, xp, X, Y, weight):
        """scikit-learn's early-stopping split (stratified for one-output classifiers), drawn on
        the host from the row numbers alone; the rows are then gathered on the backend."""
        samples = X.shape[0]
        stratify = self._stratify_labels(Y)
        rows = backend.host_namespace().arange(samples)
        train_rows, val_rows = train_test_split(rows, random_state=self._random_state,
                                                test_size=self.validation_fraction, stratify=stratify)
        if val_rows.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size of "
                             "your dataset.")
        host_rows = {"train": train_rows, "val": val_rows}
        train_rows, val_rows = asarray(train_rows), asarray(val_rows)

        def take(a, rows, part):
            if isinstance(a, SparseRows):
                return a.subset(host_rows[part])
            return None if a is None else xp.take(a, rows, axis=0)

        return (take(X, train_rows, "train"), take(Y, train_rows, "train"), take(weight, train_rows, "train"),
                (take(X, val_rows, "val"), take(Y, val_rows, "val"), take(weight, val_rows, "val")))

    def _update_no_improvement_count(self, xp, validation):
        if self.early_stopping:
            score = self._score_arrays(xp, *validation)
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_state = [copy_of(p.value) for p in self._parameters]
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    def _fit_lbfgs(self, xp, X, Y, weight):
        params = [p for p in self._parameters if p.trainable]
        optimizer = LBFGS(max_iter=self.max_iter, max_fun=self.max_fun, gtol=self.tol)
        result = optimizer.minimize_parameters(lambda: self._objective(xp, X, Y, weight), params)
        self.n_iter_ = result.n_iter
        self.loss_ = result.fun
        if self.verbose:
            print(f"L-BFGS: {result.message} after {result.n_iter} iterations, loss = {result.fun:.8f}")
        if not result.converged:
            warnings.warn(f"lbfgs failed to converge after {result.n_iter} iteration(s): {result.message}. "
                          "Increase the number of iterations (max_iter) or scale the data.",
                          ConvergenceWarning, stacklevel=4)

    # ------------------------------------------------------------------ inference
    def _raw_output(self, X):
        """(the last layer's output z for X, on the backend; whether X was a device array)."""
        check_is_fitted(self)
        with backend.use_backend(self._backend_):
            X, on_device = self._features(X, reset=False)
            return self._outputs(X), on_device

    def _host_or_device(self, array, on_device):
        return array if on_device else to_numpy(array)

    def _score_anywhere(self, X, y, sample_weight, host_score):
        """Device arrays are scored on their device; anything else by ``host_score``, the
        scikit-learn mixin's ``score``."""
        if device_namespace(X) is None and device_namespace(y) is None:
            return host_score(X, y, sample_weight=sample_weight)
        check_is_fitted(self)
        with backend.use_backend(self._backend_) as xp:
            X, _ = self._features(X, reset=False)
            Y = self._targets(y, X.shape[0], incremental=True, reset=False, scoring=True)
            return self._score_arrays(xp, X, Y, self._weights(sample_weight, X, X.shape[0]))

    # ------------------------------------------------------------------ parameters as scikit-learn names them
    @property
    def coefs_(self) -> list:
        """The weight matrices, (fan_in, fan_out) each, as NumPy arrays (the live arrays on the
        NumPy backend)."""
        return [to_numpy(d.weight.value) for d in dense_layers(self._fitted_network())]

    @property
    def intercepts_(self) -> list:
        return [to_numpy(d.bias.value) for d in dense_layers(self._fitted_network())]

    def _fitted_network(self):
        network = self.__dict__.get("_network")
        if network is None:
            raise AttributeError(f"This {type(self).__name__} instance is not fitted yet")
        return network

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------------ pickling
    # A pickle holds host copies of the weights and the solver's state; unpickling makes them on
    # the unpickling process's active backend, which a fitted estimator then predicts and
    # trains on (xpnn/backend/pickling.py says why).
    def __getstate__(self) -> dict:
        state = super().__getstate__()
        if state.get("_best_state") is not None:
            state = {**state, "_best_state": portable(state["_best_state"])}
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(unwrapped(state))
        network = self.__dict__.get("_network")
        if network is not None:
            self._backend_ = backend.backend_name_of(namespace_of(value=network.parameters()[0].value))


# ---------------------------------------------------------------- small helpers

class unchanged_on_error:
    """``with unchanged_on_error(estimator):`` a fit that raises before training begins (a bad
    argument, label or sample weight) leaves every attribute as it was, so an estimator fitted
    before still predicts. Once training has begun (``_training_started``) the weights have
    changed in place and an error leaves the partly trained estimator, as scikit-learn's own
    does. Nests: only the outermost block restores."""

    def __init__(self, estimator):
        self.estimator = estimator

    def __enter__(self):
        self.outermost = not hasattr(self.estimator, "_training_started")
        if self.outermost:
            self.saved = dict(vars(self.estimator))
            self.estimator._training_started = False
        return self.estimator

    def __exit__(self, kind, error, traceback):
        if not self.outermost:
            return False
        started = self.estimator._training_started
        if kind is not None and not started:
            vars(self.estimator).clear()
            vars(self.estimator).update(self.saved)
        else:
            del self.estimator._training_started
        return False


def keep_parameters(estimator, arguments: dict) -> None:
    """Store each constructor argument under its own name, unchanged, as scikit-learn's
    ``get_params``/``clone`` expect; call it first in ``__init__`` with ``locals()``."""
    for name, value in arguments.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


def device_namespace(X):
    """The array namespace of a non-NumPy array (CuPy, array_api_strict), else None."""
    if not is_array(X):
        return None
    xp = namespace_of(X=X)
    return None if backend.backend_name_of(xp) == "numpy" else xp


class SparseRows:
    """A scipy.sparse X kept on the host (CSR), handed to the network a block of rows at a
    time as dense arrays of the active backend: a 4000 x 400000 matrix with 40k non-zeros
    needed 11.9 GiB densified whole; a mini-batch of 200 rows in float64 needs 640 MB."""

    ndim = 2
    block_bytes = 2**26  # inference and L-BFGS blocks: at most 64 MiB of dense rows

    def __init__(self, matrix, dtype: str):
        self.matrix, self.dtype_name = matrix.tocsr(), dtype
        self.shape = tuple(self.matrix.shape)
        self.dtype = backend.resolve_dtype(backend.namespace(), dtype)

    def rows(self, host_indices):
        return asarray(self.matrix[host_indices].toarray(), dtype=self.dtype_name)

    def block(self, start: int, stop: int):
        return asarray(self.matrix[start:stop].toarray(), dtype=self.dtype_name)

    def subset(self, host_indices) -> "SparseRows":
        return SparseRows(self.matrix[host_indices], self.dtype_name)

    def rows_per_block(self) -> int:
        itemsize = 4 if self.dtype_name == "float32" else 8
        return max(1, min(self.shape[0], self.block_bytes // max(1, self.shape[1] * itemsize)))
