"""Special functions the array API lacks, built from the functions it has.

``erf`` is an Ops method (``ops_for(xp).erf``, xpnn/backend/ops.py), so that a backend with an
erf of its own can use it: the generic one is W. J. Cody's rational approximations, to about
1e-16 absolute in float64 and within float32 rounding in float32.
"""

from __future__ import annotations

import math

from ..backend import ops_for


def normal_cdf(xp, x):
    """Phi(x), the standard normal CDF."""
    return 0.5 * (1.0 + ops_for(xp).erf(x * (1.0 / math.sqrt(2.0))))


def normal_pdf(xp, x):
    """phi(x), the standard normal density."""
    return xp.exp(-0.5 * x * x) * (1.0 / math.sqrt(2.0 * math.pi))


def sigmoid(xp, z):
    """1/(1+exp(-z)) without overflow: exp is only ever taken of -|z|."""
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
