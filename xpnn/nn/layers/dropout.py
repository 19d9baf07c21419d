"""Inverted dropout: zero each element with probability ``rate`` while training, and scale the
survivors by 1/(1 - rate) so that the expected output equals the input and inference needs no
rescaling at all."""

from __future__ import annotations

from ...backend import DeviceRandom, namespace_of
from ...utils.validation import check_float_array, check_number, check_seed, check_shape
from ..layer import Layer


class Dropout(Layer):
    """``Dropout(rate, seed=None)``: training keeps each element with probability 1 - rate and
    multiplies it by 1/(1 - rate); inference (and ``rate == 0``) is the identity.

    Masks are drawn where the data lives from a counter-based stream (``self.random``, a
    ``DeviceRandom``): a GPU run never copies a mask from the host, the same ``seed`` gives the
    same masks on NumPy, array_api_strict and CuPy, and a checkpoint resumes the stream
    exactly from two integers. ``seed=None`` takes a seed from the library stream
    (``xpnn.set_seed``).
    """

    def __init__(self, rate: float, *, seed: int | None = None):
        # rate == 1 would drop everything and scale by 1/0
        self.rate = check_number(rate, "rate", "Dropout", low=0, high=1, high_open=True)
        self.seed = check_seed(seed, "seed", "Dropout")
        self.random = DeviceRandom(self.seed)

    def random_streams(self) -> list:
        return [self.random]

    def forward(self, x, training: bool = True):
        xp = namespace_of(x=x)
        check_float_array(xp, x, "x", "Dropout")
        shape = tuple(x.shape)
        if not training or self.rate == 0.0:
            def identity_backward(dout):
                check_shape(dout, shape, "dout", "Dropout.backward")
                return dout

            return x, identity_backward

        scale = 1.0 / (1.0 - self.rate)
        keep = self.random.keep_mask(shape, x, self.rate)
        out = xp.where(keep, x * scale, 0.0)

        def backward(dout):
            check_shape(dout, shape, "dout", "Dropout.backward")
            # the boolean mask is all backward needs: a byte per element instead of a float
            return xp.where(keep, dout * scale, 0.0)

        return out, backward

    def get_config(self) -> dict:
        return {"rate": self.rate, "seed": self.seed}

    def __repr__(self) -> str:
        seed = "" if self.seed is None else f", seed={self.seed}"
        return f"Dropout(rate={self.rate}{seed})"
