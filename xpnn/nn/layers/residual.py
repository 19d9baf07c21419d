"""A skip connection: y = x + block(x), so the gradient reaches x both directly and through
the block (the reason deep residual networks still train)."""

from __future__ import annotations

from ...utils.validation import check_output_shape
from ...backend import namespace_of
from ..layer import Layer, layer_config, layer_from_config


class Residual(Layer):
    """``Residual(block)``: ``block`` is any Layer whose output has the shape of its input
    (a ``Dense(n, n)``, a ``Sequential`` ending in n features...)."""

    def __init__(self, block: Layer):
        if not isinstance(block, Layer):
            raise TypeError(f"Residual: block must be an xpnn Layer, got {type(block).__name__}")
        self.block = block

    def forward(self, x, training: bool = True):
        namespace_of(x=x)  # a clear error for a non-array before the block sees it
        fx, block_backward = self.block.forward(x, training)
        if tuple(fx.shape) != tuple(x.shape):
            raise ValueError(
                f"Residual: the block's output has shape {tuple(fx.shape)} but x has shape "
                f"{tuple(x.shape)}; the block must keep the shape of its input"
            )
        out = x + fx

        def backward(dout):
            check_output_shape(dout, out, "Residual.backward")
            # d(x + f(x))/dx = I + f'(x): the identity path adds dout unchanged
            return dout + block_backward(dout)

        return out, backward

    def get_config(self) -> dict:
        return {"block": layer_config(self.block)}

    @classmethod
    def from_config(cls, config: dict) -> "Residual":
        if "block" not in config:
            raise ValueError(f"Residual: config needs a 'block' entry, got keys {sorted(config)}")
        return cls(layer_from_config(config["block"]))

    def __repr__(self) -> str:
        return f"Residual({self.block!r})"
