"""Layers that only change the shape of each sample, the batch axis kept: backward gives the
gradient the input's shape back."""

from __future__ import annotations

import math
import numbers

from ...backend import namespace_of
from ...utils.validation import check_output_shape
from ..layer import Layer


class Flatten(Layer):
    """``Flatten()``: (batch, d1, d2, ...) to (batch, d1 d2 ...), in row-major order (as
    ``torch.nn.Flatten()``: a (batch, C, H, W) image becomes C H W features, channel slowest).
    Raises ValueError for an x without a batch axis (0-d or 1-d)."""

    def forward(self, x, training: bool = True):
        xp = namespace_of(x=x)
        if x.ndim < 2:
            raise ValueError(f"Flatten: x has shape {tuple(x.shape)}, expected (batch, ...) with "
                             "at least one axis after the batch")
        shape = tuple(x.shape)
        out = xp.reshape(x, (shape[0], math.prod(shape[1:])))

        def backward(dout):
            check_output_shape(dout, out, "Flatten.backward")
            return xp.reshape(dout, shape)

        return out, backward

    def get_config(self) -> dict:
        return {}


class Reshape(Layer):
    """``Reshape(shape)``: each sample reshaped to ``shape`` (a tuple of ints >= 1, one of
    them may be -1), the batch axis kept: (batch, ...) to (batch, *shape), row-major, as
    ``x.reshape(batch, *shape)`` (e.g. ``Reshape((1, 8, 8))`` turns 64 features into a
    one-channel 8x8 image). Raises ValueError for a bad ``shape`` and, in forward, for an x
    whose samples do not hold the number of values ``shape`` asks for."""

    def __init__(self, shape):
        items = tuple(shape) if isinstance(shape, (tuple, list)) else None
        if (not items or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or (v < 1 and v != -1)
                             for v in items) or sum(v == -1 for v in items) > 1):
            raise ValueError(f"Reshape: shape must be a non-empty tuple of ints >= 1 (one of them "
                             f"may be -1), got {shape!r:.80}")
        self.shape = tuple(int(v) for v in items)

    def forward(self, x, training: bool = True):
        xp = namespace_of(x=x)
        if x.ndim < 1:
            raise ValueError("Reshape: x is 0-d, expected (batch, ...)")
        in_shape = tuple(x.shape)
        values = math.prod(in_shape[1:])
        known = math.prod(v for v in self.shape if v != -1)
        if (values != known) if -1 not in self.shape else (values % known != 0):
            raise ValueError(
                f"Reshape: x has shape {in_shape}, {values} values per sample, which cannot be "
                f"reshaped to (batch, {', '.join(map(str, self.shape))})"
            )
        out = xp.reshape(x, (in_shape[0], *self.shape))

        def backward(dout):
            check_output_shape(dout, out, "Reshape.backward")
            return xp.reshape(dout, in_shape)

        return out, backward

    def get_config(self) -> dict:
        return {"shape": list(self.shape)}

    def __repr__(self) -> str:
        return f"Reshape({self.shape})"
