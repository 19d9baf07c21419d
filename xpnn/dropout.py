"""Inverted dropout: zero each element with probability ``rate`` while training, and scale the
survivors by 1/(1 - rate) so that the expected output equals the input and inference needs no
rescaling at all."""

from __future__ import annotations

from ._checks import require_finite_number, require_float, require_shape
from .backend import DeviceRandom, namespace_of
from .layer import Layer


class Dropout(Layer):
    """``Dropout(rate, seed=None)``: training keeps each element with probability 1 - rate and
    multiplies it by 1/(1 - rate); inference (and ``rate == 0``) is the identity.

    Masks are drawn where the data lives (``self.random``, a ``DeviceRandom``), so a GPU run
    never copies a mask from the host. ``seed`` fixes the stream: the same seed gives the same
    masks on NumPy and array_api_strict (both draw on the host); CuPy has a stream of its own.
    ``seed=None`` takes a seed from the library stream (``xpnn.set_seed``).
    """

    def __init__(self, rate: float, *, seed: int | None = None):
        rate = require_finite_number(rate, "rate", "Dropout")
        if not 0.0 <= rate < 1.0:
            # rate == 1 would drop everything and scale by 1/0
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise TypeError(f"Dropout: seed must be None or a non-negative int, got {seed!r}")
        self.rate = rate
        self.seed = seed
        self.random = DeviceRandom(seed)

    def forward(self, x, training: bool = True):
        xp = namespace_of(x=x)
        require_float(xp, x, "x", "Dropout")
        shape = tuple(x.shape)
        if not training or self.rate == 0.0:
            def identity_backward(dout):
                require_shape(dout, shape, "dout", "Dropout.backward")
                return dout

            return x, identity_backward

        scale = 1.0 / (1.0 - self.rate)
        # ">= rate" rather than "< 1 - rate": a float32 draw can round up to exactly 1.0, which
        # this comparison still keeps, so the keep probability stays 1 - rate.
        keep = self.random.uniform(shape, like=x) >= self.rate
        out = xp.where(keep, x * scale, 0.0)

        def backward(dout):
            require_shape(dout, shape, "dout", "Dropout.backward")
            # the boolean mask is all backward needs: a byte per element instead of a float
            return xp.where(keep, dout * scale, 0.0)

        return out, backward

    def get_config(self) -> dict:
        return {"rate": self.rate, "seed": self.seed}

    def __repr__(self) -> str:
        seed = "" if self.seed is None else f", seed={self.seed}"
        return f"Dropout(rate={self.rate}{seed})"
