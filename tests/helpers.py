"""Small helpers for the tests: host data with fixed seeds, moved to the active backend."""

import numpy as np

import xpnn


def host_normal(*shape, seed=0, scale=1.0):
    return np.random.default_rng(seed).normal(scale=scale, size=shape)


def away_from(values, kinks, margin=0.05):
    """Nudge entries that lie within ``margin`` of a kink, so finite differences stay on
    one side of it."""
    values = np.array(values, dtype=np.float64)
    for kink in kinks:
        close = np.abs(values - kink) < margin
        values[close] = kink + np.where(values[close] >= kink, margin, -margin)
    return values


def on_backend(host, dtype="float64"):
    return xpnn.asarray(host, dtype=dtype)
