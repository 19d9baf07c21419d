import math

import numpy as np

import xpnn
from xpnn.nn import special


def test_erf_matches_math_erf_to_double_precision(xp):
    x = np.concatenate([np.linspace(-8, 8, 4001), [0.0, 1e-300, -1e-20, 0.46875, -0.46875, 4.0, 30.0, -30.0]])
    got = xpnn.to_numpy(xpnn.backend.ops_for(xp).erf(xpnn.asarray(x)))
    expected = np.array([math.erf(v) for v in x])
    assert np.max(np.abs(got - expected)) <= 4.5e-16  # measured 2.2e-16


def test_erf_in_float32_is_within_float32_rounding(xp):
    x = np.linspace(-6, 6, 4001).astype(np.float32)
    got = xpnn.to_numpy(xpnn.backend.ops_for(xp).erf(xpnn.asarray(x)))
    assert got.dtype == np.float32
    expected = np.array([math.erf(float(v)) for v in x])
    assert np.max(np.abs(got - expected)) <= 2.4e-7  # two float32 ulps at 1; measured 1.4e-7


def test_sigmoid_is_symmetric_and_saturates_cleanly(xp):
    z = xpnn.asarray(np.array([-1e300, -50.0, 0.0, 50.0, 1e300]))
    s = xpnn.to_numpy(special.sigmoid(xp, z))
    assert s[0] == 0.0 and s[-1] == 1.0 and s[2] == 0.5
    assert s[1] == math.exp(-50.0) / (1 + math.exp(-50.0))
