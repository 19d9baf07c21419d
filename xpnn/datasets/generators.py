"""Toy problems drawn at random: XOR, spirals, moons, and 1-D curves for universal approximation.

Every generator returns host (NumPy) arrays ``(X, y)``: float64 features of shape
(n_samples, 2) and int64 labels for the classification problems; x and y of shape
(n_samples, 1), both float64, for ``make_regression_1d``. ``model.fit`` moves them to the
active backend.

``random_state``: an int gives the same data every call (on every backend: the draws happen on
the host); ``None`` draws from the library's stream, which ``xpnn.set_seed`` seeds; a NumPy
``Generator`` is drawn from directly. Arguments are checked up front: a bad one raises
ValueError (TypeError for a wrong type) naming the function and the argument.
"""

from __future__ import annotations

import math

from .. import backend
from ..utils.validation import check_bool, check_int, check_number

REGRESSION_FUNCTIONS = ("sin", "cos", "abs", "step", "square", "cubic", "gaussian", "sawtooth")


def make_xor(n_samples: int = 200, noise: float = 0.1, *, shuffle: bool = True, random_state=None):
    """The XOR problem: points in the square [-1, 1]², labelled by the XOR of their signs.

    Class 0 fills the quadrants where x and y have the same sign, class 1 the two others, so no
    straight line separates them: the smallest problem a network needs a hidden layer for. The
    quadrants take turns, so the classes are balanced (to one sample for odd ``n_samples``).
    Points are uniform within their quadrant; ``noise`` is the standard deviation of Gaussian
    noise then added to each coordinate (labels keep their quadrant, so noise blurs the border).
    With ``noise=0``, ``y == (X[:, 0] > 0) != (X[:, 1] > 0)`` for every point.
    """
    where = "make_xor"
    n = check_int(n_samples, "n_samples", where, minimum=2)
    noise = check_number(0.0 if noise is None else noise, "noise", where, low=0)
    shuffle = check_bool(shuffle, "shuffle", where)
    generator = _generator(random_state, where)
    xp = backend.host_namespace()
    quadrant = xp.arange(n, dtype=xp.int64) % 4  # 0: (+, +), 1: (+, -), 2: (-, -), 3: (-, +)
    magnitude = 1.0 - generator.random((n, 2))  # in (0, 1]: no point sits on an axis
    sign_x = xp.where(quadrant < 2, 1.0, -1.0)
    sign_y = xp.where((quadrant == 0) | (quadrant == 3), 1.0, -1.0)
    X = xp.stack([sign_x * magnitude[:, 0], sign_y * magnitude[:, 1]], axis=1)
    y = quadrant % 2
    return _finish(X, y, noise, shuffle, generator)


def make_spirals(n_samples: int = 300, n_classes: int = 2, noise: float = 0.2, *,
                 turns: float = 1.0, shuffle: bool = True, random_state=None):
    """Interleaved spiral arms, one class per arm (the CS231n "spiral data").

    Arm ``k`` of ``n_classes`` starts near the origin and winds ``turns`` times round it out to
    radius 1: a point at radius r in (0, 1] has the angle ``2πk / n_classes + 2π·turns·r``.
    ``noise`` is the standard deviation, in radians, of Gaussian jitter added to each point's
    angle (so points stay on the circle of their radius and the arms thicken outwards). The
    samples are shared out as evenly as possible: class counts differ by at most one.
    """
    where = "make_spirals"
    classes = check_int(n_classes, "n_classes", where, minimum=2)
    n = check_int(n_samples, "n_samples", where, minimum=classes,
               or_else=f" (at least one point per class; n_classes={classes})")
    noise = check_number(0.0 if noise is None else noise, "noise", where, low=0)
    turns = check_number(turns, "turns", where, low=0, low_open=True)
    shuffle = check_bool(shuffle, "shuffle", where)
    generator = _generator(random_state, where)
    xp = backend.host_namespace()
    radii, labels = [], []
    for k in range(classes):
        count = n // classes + (1 if k < n % classes else 0)
        radii.append(xp.arange(1, count + 1, dtype=xp.float64) / count)
        labels.append(xp.full(count, k, dtype=xp.int64))
    r, y = xp.concat(radii), xp.concat(labels)
    angle = 2 * math.pi * (xp.astype(y, xp.float64) / classes + turns * r)
    if noise > 0:
        angle = angle + generator.normal(0.0, noise, size=n)
    X = xp.stack([r * xp.cos(angle), r * xp.sin(angle)], axis=1)
    return _finish(X, y, 0.0, shuffle, generator)


def make_moons(n_samples: int = 200, noise: float = 0.1, *, shuffle: bool = True, random_state=None):
    """Two interleaving half circles, scikit-learn's ``make_moons`` formula.

    Class 0 lies on the upper half of the unit circle, class 1 on the lower half of a unit
    circle centred at (1, 0.5) (``n_samples // 2`` points on the first, the rest on the second,
    evenly spaced in angle). ``noise`` is the standard deviation of Gaussian noise added to
    each coordinate. The numbers differ from scikit-learn's for the same seed (another random
    generator), the picture does not.
    """
    where = "make_moons"
    n = check_int(n_samples, "n_samples", where, minimum=2)
    noise = check_number(0.0 if noise is None else noise, "noise", where, low=0)
    shuffle = check_bool(shuffle, "shuffle", where)
    generator = _generator(random_state, where)
    xp = backend.host_namespace()
    n_out = n // 2
    outer = xp.linspace(0.0, math.pi, n_out)
    inner = xp.linspace(0.0, math.pi, n - n_out)
    X = xp.concat([
        xp.stack([xp.cos(outer), xp.sin(outer)], axis=1),
        xp.stack([1.0 - xp.cos(inner), 0.5 - xp.sin(inner)], axis=1),
    ])
    y = xp.concat([xp.zeros(n_out, dtype=xp.int64), xp.ones(n - n_out, dtype=xp.int64)])
    return _finish(X, y, noise, shuffle, generator)


def make_regression_1d(n_samples: int = 200, noise: float = 0.05, function="sin", *,
                       random_state=None):
    """Samples of a function of one variable, to watch a network approximate it.

    ``x`` is drawn uniformly from [-π, π] (unsorted: sort it to plot a curve), ``y = f(x)`` plus
    Gaussian noise of standard deviation ``noise``; both have shape (n_samples, 1), float64.
    ``function`` is a name from ``REGRESSION_FUNCTIONS`` or a callable taking and returning a
    host array of shape (n_samples, 1):

    - ``sin``, ``cos``: smooth; ``square`` (x²), ``cubic`` (x³ / π², within [-π, π]): polynomials
    - ``abs``: |x|, a kink at 0 (a ReLU network represents it exactly)
    - ``step``: 0 for x < 0 and 1 for x ≥ 0, a jump (approximated, never reached, by smooth units)
    - ``gaussian``: exp(-x²), a bump; ``sawtooth``: x mod (2π/3) - π/3, three ramps and jumps
    """
    where = "make_regression_1d"
    n = check_int(n_samples, "n_samples", where, minimum=1)
    noise = check_number(0.0 if noise is None else noise, "noise", where, low=0)
    f = _function(function, where)
    generator = _generator(random_state, where)
    xp = backend.host_namespace()
    x = xp.asarray(generator.uniform(-math.pi, math.pi, size=(n, 1)), dtype=xp.float64)
    y = f(x)
    try:
        y = xp.reshape(xp.asarray(y, dtype=xp.float64), (n, 1))
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{where}: function must return {n} numbers (shape ({n}, 1)) for x of shape ({n}, 1); "
            f"got {type(y).__name__} of shape {getattr(y, 'shape', '?')} ({error})"
        ) from None
    if noise > 0:
        y = y + generator.normal(0.0, noise, size=(n, 1))
    return x, y


# ---------------------------------------------------------------- helpers


def _functions():
    xp = backend.host_namespace()
    period = 2 * math.pi / 3
    return {
        "sin": xp.sin,
        "cos": xp.cos,
        "abs": xp.abs,
        "step": lambda x: xp.where(x >= 0, 1.0, 0.0),
        "square": lambda x: x * x,
        "cubic": lambda x: x ** 3 / math.pi ** 2,
        "gaussian": lambda x: xp.exp(-x * x),
        "sawtooth": lambda x: xp.remainder(x, period) - period / 2,
    }


def _function(function, where):
    if callable(function):
        return function
    if isinstance(function, str) and function in REGRESSION_FUNCTIONS:
        return _functions()[function]
    raise ValueError(
        f"{where}: function must be one of {', '.join(REGRESSION_FUNCTIONS)} or a callable, "
        f"got {function!r}"
    )


def _finish(X, y, noise, shuffle, generator):
    xp = backend.host_namespace()
    if shuffle:
        order = xp.asarray(generator.permutation(X.shape[0]))
        X, y = xp.take(X, order, axis=0), xp.take(y, order, axis=0)
    if noise > 0:
        X = X + generator.normal(0.0, noise, size=X.shape)
    return X, y


def _generator(random_state, where):
    try:
        return backend.rng(random_state)
    except TypeError:
        raise ValueError(
            f"{where}: random_state must be None, an int >= 0 or a numpy Generator, "
            f"got {random_state!r}"
        ) from None


__all__ = ["REGRESSION_FUNCTIONS", "make_moons", "make_regression_1d", "make_spirals", "make_xor"]
