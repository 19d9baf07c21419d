"""L-BFGS: full-batch quasi-Newton minimisation written against the array API.

The search direction comes from the two-loop recursion over the last ``history_size``
curvature pairs (s = x_new - x, y = g_new - g); the step length from a line search that
satisfies the strong Wolfe conditions (bracketing, then zooming with cubic interpolation;
Nocedal & Wright, Numerical Optimization, algorithms 3.5, 3.6 and 7.4). The stopping rules are
those of SciPy's L-BFGS-B, which scikit-learn's ``solver="lbfgs"`` uses: the largest gradient
entry at most ``gtol``, a relative decrease of the loss at most ``ftol``, or ``max_iter``
iterations or ``max_fun`` evaluations spent.

Vectors stay on their backend (a GPU keeps them); only the scalars the line search decides
with (the loss, two dot products per evaluation) are read back to the host.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..backend import namespace_of
from ..utils.validation import check_int, check_number


@dataclass
class LBFGSResult:
    """What ``LBFGS.minimize`` found: the point, its loss and gradient, and why it stopped."""

    x: object
    fun: float
    grad: object
    n_iter: int
    n_fun: int
    converged: bool
    message: str


class LBFGS:
    """``LBFGS(history_size=10, max_iter=15000, max_fun=15000, gtol=1e-5, ftol=2.2e-9)``.

    - ``minimize(fun, x0)``: ``fun(x)`` returns ``(loss, gradient)`` for a 1-D array ``x``.
    - ``minimize_parameters(closure, params)``: ``closure()`` computes the loss of the current
      parameter values and leaves the gradients in ``Parameter.grad`` (zero them first, run
      forward and backward); the parameters end at the minimiser, updated in place.

    ``ftol``'s default is SciPy's (``factr=1e7`` times float64's machine epsilon).
    """

    def __init__(self, *, history_size: int = 10, max_iter: int = 15000, max_fun: int = 15000,
                 gtol: float = 1e-5, ftol: float = 1e7 * 2.220446049250313e-16,
                 c1: float = 1e-3, c2: float = 0.9, max_line_search: int = 20):
        where = "LBFGS"
        self.history_size = check_int(history_size, "history_size", where, minimum=1)
        self.max_iter = check_int(max_iter, "max_iter", where, minimum=1)
        self.max_fun = check_int(max_fun, "max_fun", where, minimum=1)
        self.max_line_search = check_int(max_line_search, "max_line_search", where, minimum=1)
        self.gtol = check_number(gtol, "gtol", where, low=0)
        self.ftol = check_number(ftol, "ftol", where, low=0)
        self.c1, self.c2 = check_number(c1, "c1", where), check_number(c2, "c2", where)
        if not 0 < self.c1 < self.c2 < 1:
            raise ValueError(f"{where}: the Wolfe constants need 0 < c1 < c2 < 1, got c1={c1!r}, c2={c2!r}")

    # ------------------------------------------------------------------ flat vectors
    def minimize(self, fun, x0) -> LBFGSResult:
        xp = namespace_of(x0=x0)
        if x0.ndim != 1:
            raise ValueError(f"LBFGS.minimize: x0 must be 1-D, got shape {tuple(x0.shape)}")
        counter = _Counter(fun, xp, x0)
        x = xp.asarray(x0, copy=True)
        f, g = counter(x)
        pairs: list[tuple] = []  # (s, y, 1 / y.s), oldest first
        n_iter = 0
        if not math.isfinite(f):
            return LBFGSResult(x, f, g, 0, counter.calls, False, "the loss at x0 is not finite")
        if _max_abs(xp, g) <= self.gtol:
            return LBFGSResult(x, f, g, 0, counter.calls, True, "the gradient at x0 is below gtol")
        while True:
            direction = _two_loop(xp, g, pairs)
            slope = _dot(xp, g, direction)
            if not slope < 0:  # numerical trouble in the pairs: restart from steepest descent
                pairs.clear()
                direction, slope = -g, -_dot(xp, g, g)
            first_step = 1.0 / math.sqrt(_dot(xp, direction, direction)) if n_iter == 0 else 1.0
            found = _strong_wolfe(counter, x, f, g, direction, slope, first_step,
                                  self.c1, self.c2, self.max_line_search, self.max_fun)
            if found is None:
                return LBFGSResult(x, f, g, n_iter, counter.calls, False,
                                   "the line search found no step that decreases the loss enough")
            step, f_new, g_new = found
            s = step * direction
            y = g_new - g
            ys = _dot(xp, y, s)
            if ys > 2.220446049250313e-16 * _dot(xp, y, y):  # keep the Hessian estimate positive definite
                pairs.append((s, y, 1.0 / ys))
                if len(pairs) > self.history_size:
                    pairs.pop(0)
            x = x + s
            f_old, f, g = f, f_new, g_new
            n_iter += 1
            if _max_abs(xp, g) <= self.gtol:
                return LBFGSResult(x, f, g, n_iter, counter.calls, True, "the largest gradient entry is below gtol")
            if (f_old - f) <= self.ftol * max(abs(f_old), abs(f), 1.0):
                return LBFGSResult(x, f, g, n_iter, counter.calls, True,
                                   "the relative reduction of the loss is below ftol")
            if n_iter >= self.max_iter:
                return LBFGSResult(x, f, g, n_iter, counter.calls, False, f"max_iter={self.max_iter} iterations reached")
            if counter.calls >= self.max_fun:
                return LBFGSResult(x, f, g, n_iter, counter.calls, False,
                                   f"max_fun={self.max_fun} loss evaluations reached")

    # ------------------------------------------------------------------ parameters
    def minimize_parameters(self, closure, params) -> LBFGSResult:
        params = [p for p in params if p.trainable]
        if not params:
            raise ValueError("LBFGS.minimize_parameters: params has no trainable Parameter")
        xp = namespace_of(**{f"params[{i}]": p.value for i, p in enumerate(params)})

        def fun(flat):
            assign_flat(xp, params, flat)
            loss = closure()
            return loss, flatten(xp, [_grad_or_zeros(xp, p) for p in params])

        result = self.minimize(fun, flatten(xp, [p.value for p in params]))
        assign_flat(xp, params, result.x)
        return result


def flatten(xp, arrays) -> object:
    """One 1-D array holding every array's entries, in order."""
    return xp.concat([xp.reshape(a, (-1,)) for a in arrays])


def assign_flat(xp, params, flat) -> None:
    """Write consecutive pieces of ``flat`` into the parameters' values, in place."""
    start = 0
    for p in params:
        size = math.prod(p.shape)
        p.value[...] = xp.reshape(flat[start:start + size], p.shape)
        start += size


def _grad_or_zeros(xp, p):
    return p.grad if p.grad is not None else xp.zeros_like(p.value)


class _Counter:
    """``fun`` with its calls counted and its result checked once."""

    def __init__(self, fun, xp, x0):
        self.fun, self.xp, self.shape, self.calls = fun, xp, tuple(x0.shape), 0

    def __call__(self, x):
        self.calls += 1
        loss, grad = self.fun(x)
        namespace_of(x=x, grad=grad)  # a gradient of another backend: a named TypeError
        if tuple(grad.shape) != self.shape:
            raise ValueError(f"LBFGS: fun returned a gradient of shape {tuple(grad.shape)}, expected {self.shape}")
        return float(loss), grad


def _dot(xp, a, b) -> float:
    return float(xp.vecdot(a, b))


def _max_abs(xp, g) -> float:
    return float(xp.max(xp.abs(g)))


def _two_loop(xp, g, pairs):
    """-H g, with H the inverse-Hessian estimate of the stored pairs (Nocedal & Wright 7.4)."""
    q = g
    alphas = []
    for s, y, rho in reversed(pairs):
        alpha = rho * _dot(xp, s, q)
        q = q - alpha * y
        alphas.append(alpha)
    if pairs:
        s, y, _ = pairs[-1]
        q = (_dot(xp, s, y) / _dot(xp, y, y)) * q
    for (s, y, rho), alpha in zip(pairs, reversed(alphas)):
        beta = rho * _dot(xp, y, q)
        q = q + (alpha - beta) * s
    return -q


def _cubic_minimum(t1, f1, d1, t2, f2, d2, low, high) -> float:
    """The minimiser of the cubic through (t1, f1, slope d1) and (t2, f2, slope d2), kept in
    [low, high]; the midpoint when the cubic has none."""
    if t1 == t2:
        return (low + high) / 2
    e1 = d1 + d2 - 3 * (f1 - f2) / (t1 - t2)
    square = e1 * e1 - d1 * d2
    if square < 0 or not math.isfinite(square):
        return (low + high) / 2
    e2 = math.copysign(math.sqrt(square), t2 - t1)
    denominator = d2 - d1 + 2 * e2
    if denominator == 0:
        return (low + high) / 2
    t = t2 - (t2 - t1) * (d2 + e2 - e1) / denominator
    return min(max(t, low), high) if math.isfinite(t) else (low + high) / 2


def _strong_wolfe(evaluate, x, f0, g0, direction, slope0, step, c1, c2, max_evals, max_fun):
    """A step t with f(x + t d) <= f0 + c1 t slope0 and |slope(t)| <= c2 |slope0|, as
    (t, f, g); None when none was found within ``max_evals`` evaluations."""
    xp = evaluate.xp

    def point(t):
        f, g = evaluate(x + t * direction)
        return t, f, g, _dot(xp, g, direction)

    def sufficient(t, f):
        return f <= f0 + c1 * t * slope0

    previous = (0.0, f0, g0, slope0)
    current = point(step)
    for evals in range(1, max_evals + 1):
        t, f, g, slope = current
        if not math.isfinite(f) or not sufficient(t, f) or (evals > 1 and f >= previous[1]):
            return _zoom(point, previous, current, f0, slope0, c1, c2, max_evals - evals, evaluate, max_fun)
        if abs(slope) <= -c2 * slope0:
            return t, f, g
        if slope >= 0:
            return _zoom(point, current, previous, f0, slope0, c1, c2, max_evals - evals, evaluate, max_fun)
        if evals >= max_evals or evaluate.calls >= max_fun:
            return t, f, g  # sufficient decrease holds: take it
        low, high = t + 0.01 * (t - previous[0]), 10 * t
        next_t = _cubic_minimum(previous[0], previous[1], previous[3], t, f, slope, low, high)
        previous, current = current, point(next_t)
    return None


def _zoom(point, low, high, f0, slope0, c1, c2, evals_left, evaluate, max_fun):
    """Shrink [low, high] (low: the lower loss, meeting sufficient decrease) around a step
    that meets both Wolfe conditions."""
    for _ in range(max(evals_left, 1)):
        if evaluate.calls >= max_fun:
            break
        t_low, t_high = low[0], high[0]
        width = abs(t_high - t_low)
        if width < 1e-12 * max(abs(t_low), abs(t_high), 1e-12):
            break
        a, b = min(t_low, t_high), max(t_low, t_high)
        high_f = high[1] if math.isfinite(high[1]) else None
        if high_f is None:
            t = (a + b) / 2
        else:
            t = _cubic_minimum(t_low, low[1], low[3], t_high, high_f, high[3], a, b)
        if min(t - a, b - t) < 0.1 * width:  # too close to an end: it would shrink too slowly
            t = (a + b) / 2
        trial = point(t)
        f, slope = trial[1], trial[3]
        if not math.isfinite(f) or f > f0 + c1 * t * slope0 or f >= low[1]:
            high = trial
        else:
            if abs(slope) <= -c2 * slope0:
                return trial[0], trial[1], trial[2]
            if slope * (t_high - t_low) >= 0:
                high = low
            low = trial
    if low[0] > 0:  # the best step found decreases the loss enough, if not the slope
        return low[0], low[1], low[2]
    return None
