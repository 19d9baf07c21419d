"""The 2-D convolution, NCHW, with PyTorch's conventions: im2col and one matmul forward, the
transposed matmul and col2im (the adjoint of im2col) backward.

``out[n, o, y, x] = bias[o] + sum_{c, i, j} weight[o, c, i, j] * xpad[n, c, y sh + i dh, x sw + j dw]``
(a cross-correlation, as ``torch.nn.Conv2d``), where ``xpad`` is x with ``padding`` zeros on
each side. With the patches as the columns of one matrix (``Ops.im2col``: (C kh kw, N oh ow))
this is ``W2 @ cols`` for ``W2`` the weight as a (out_channels, C kh kw) matrix; the backward
is the delta rule of that matmul: ``dW2 = delta cols^T``, ``db = sum delta``,
``dcols = W2^T delta``, and dL/dx is ``col2im(dcols)``, each column entry added back onto
the pixel it was read from. The array API has no convolution, no ``as_strided`` and no
scatter-add, so both are built from kh * kw strided slices; the Ops seam holds the faster
NumPy ``im2col`` (``sliding_window_view``).
"""

from __future__ import annotations

from ...backend import device_of, dtype_name, namespace_of, ops_for
from ...utils.validation import (
    check_bool, check_float_array, check_float_dtype, check_images, check_int, check_output_shape, check_pair,
    check_parameter_memory, check_same_dtype,
)
from .. import activations, init as initializers
from ..activations import Activation
from ..layer import Layer, can_skip_input_grad, layer_config, layer_from_config
from ..parameter import Parameter


def out_size(size: int, kernel: int, stride: int, dilation: int, pad_total: int) -> int:
    """``floor((size + pad_total - d (k - 1) - 1) / s) + 1``, PyTorch's output length."""
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


def tap_slice(offset: int, dilation: int, stride: int, count: int) -> slice:
    """The input rows (or columns) kernel tap ``offset`` reads for ``count`` outputs."""
    start = offset * dilation
    return slice(start, start + stride * (count - 1) + 1, stride)


def pad2d(xp, x, pads: tuple, value: float):
    """x (N, C, H, W) with ``pads = (top, bottom, left, right)`` rows and columns of ``value``
    around each image (the array API has no ``pad``: a filled array and one slice assignment)."""
    top, bottom, left, right = pads
    if not (top or bottom or left or right):
        return x
    n, c, height, width = x.shape
    padded = xp.full((n, c, height + top + bottom, width + left + right), value, dtype=x.dtype,
                     device=device_of(x))
    padded[:, :, top:top + height, left:left + width] = x
    return padded


def unpad2d(x, pads: tuple):
    """The part of a padded (N, C, H, W) array that ``pad2d`` copied x into."""
    top, bottom, left, right = pads
    if not (top or bottom or left or right):
        return x
    return x[:, :, top:x.shape[2] - bottom, left:x.shape[3] - right]


def check_fits(where: str, x, kernel_size, dilation, pads) -> None:
    """The padded image must hold at least one (dilated) window."""
    height, width = x.shape[2] + pads[0] + pads[1], x.shape[3] + pads[2] + pads[3]
    span = (dilation[0] * (kernel_size[0] - 1) + 1, dilation[1] * (kernel_size[1] - 1) + 1)
    if height < span[0] or width < span[1]:
        raise ValueError(
            f"{where}: x has shape {tuple(x.shape)}: its images, {height}x{width} after padding, "
            f"are smaller than the {span[0]}x{span[1]} window of the kernel (kernel_size "
            f"{kernel_size}, dilation {dilation}); every output needs at least one whole window"
        )


def _padding(padding, kernel_size, stride, dilation, where: str):
    """(padding as given back by get_config, (top, bottom, left, right))."""
    if isinstance(padding, str):
        if padding == "valid":
            return "valid", (0, 0, 0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{where}: padding='same' needs stride 1 (as PyTorch), got stride {stride}")
            # PyTorch: total d (k - 1) per axis, the odd one on the bottom/right
            total_h, total_w = dilation[0] * (kernel_size[0] - 1), dilation[1] * (kernel_size[1] - 1)
            return "same", (total_h // 2, total_h - total_h // 2, total_w // 2, total_w - total_w // 2)
        raise ValueError(f"{where}: padding must be an int >= 0, a pair of them, 'same' or 'valid', "
                         f"got {padding!r:.80}")
    ph, pw = check_pair(padding, "padding", where, minimum=0)
    return (ph, pw), (ph, ph, pw, pw)


class Conv2D(Layer):
    """``Conv2D(in_channels, out_channels, kernel_size, *, stride=1, padding=0, dilation=1,
    bias=True, activation=None, init=None, dtype="float32", rng=None)``, as
    ``torch.nn.Conv2d`` (a cross-correlation; weights carry over unchanged).

    - x: (batch, in_channels, height, width), NCHW; output (batch, out_channels, out_h, out_w)
      with ``out_h = floor((height + 2 ph - dh (kh - 1) - 1) / sh) + 1`` (the same for width).
    - ``weight``: (out_channels, in_channels, kh, kw); ``bias``: (out_channels,), zeros at first.
    - ``kernel_size``, ``stride``, ``dilation``: an int or a pair (height, width), each >= 1;
      ``padding``: an int or a pair >= 0 of zeros on each side, ``"valid"`` (none) or
      ``"same"`` (stride 1 only; the output keeps the input's size, an odd total padding puts
      the extra row/column at the bottom/right, as PyTorch).
    - ``init``: He-normal with fan_in = in_channels kh kw by default (with an ``activation``,
      what ``Dense`` picks for it); ``rng`` a seed or NumPy Generator. ``activation`` as Dense.

    Raises ValueError for a bad argument (naming it) and, in forward, for an x that is not
    (batch, in_channels, height, width) or whose padded images are smaller than the dilated
    kernel; TypeError for a non-float x or one whose dtype is not the weight's.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, *, stride=1, padding=0,
                 dilation=1, bias=True, activation=None, init=None, dtype="float32", rng=None):
        where = "Conv2D"
        self.in_channels = check_int(in_channels, "in_channels", where, minimum=1)
        self.out_channels = check_int(out_channels, "out_channels", where, minimum=1)
        self.kernel_size = check_pair(kernel_size, "kernel_size", where, minimum=1)
        self.stride = check_pair(stride, "stride", where, minimum=1)
        self.dilation = check_pair(dilation, "dilation", where, minimum=1)
        self.padding, self._pads = _padding(padding, self.kernel_size, self.stride, self.dilation, where)
        check_float_dtype(dtype, "dtype", where)
        check_bool(bias, "bias", where)
        check_parameter_memory((self.out_channels, self.in_channels, *self.kernel_size), dtype, "weight", where)
        activation = activations.get(activation)
        initializer = initializers.get(init or (
            "he_normal" if activation is None else activations.default_init_for(activation)))
        kh, kw = self.kernel_size
        # drawn as (in, out, kh, kw), whose fans are PyTorch's (fan_in = in kh kw, fan_out =
        # out kh kw), then laid out as (out, in, kh, kw)
        drawn = initializer((self.in_channels, self.out_channels, kh, kw), rng=rng, dtype=dtype)
        xp = namespace_of(weight=drawn)
        shape = (self.out_channels, self.in_channels, kh, kw)
        laid_out = xp.reshape(xp.reshape(xp.permute_dims(drawn, (1, 0, 2, 3)), (-1,)), shape)
        self.weight = Parameter(laid_out, name="weight")
        self.bias = (
            Parameter(initializers.zeros((self.out_channels,), dtype=dtype), name="bias")
            if bias else None
        )
        self.activation = activation  # after the weights: parameters() lists them first

    def forward(self, x, training: bool = True):
        weight, bias, activation = self.weight, self.bias, self.activation
        kernel_size, stride, dilation, pads = self.kernel_size, self.stride, self.dilation, self._pads
        xp = namespace_of(x=x, weight=weight.value)
        self._check_input(xp, x)
        ops = ops_for(xp)
        n = x.shape[0]
        out_h = out_size(x.shape[2], kernel_size[0], stride[0], dilation[0], pads[0] + pads[1])
        out_w = out_size(x.shape[3], kernel_size[1], stride[1], dilation[1], pads[2] + pads[3])
        padded = pad2d(xp, x, pads, 0.0)
        padded_shape = tuple(padded.shape)
        cols = ops.im2col(padded, kernel_size, stride, dilation)  # (C kh kw, N out_h out_w)
        del padded
        w2 = xp.reshape(weight.value, (self.out_channels, -1))
        z2 = w2 @ cols  # (out, N out_h out_w): one matmul for the whole batch
        if bias is not None:
            z2 = z2 + xp.reshape(bias.value, (-1, 1))
        z = xp.permute_dims(xp.reshape(z2, (self.out_channels, n, out_h, out_w)), (1, 0, 2, 3))
        if activation is None:
            out, activation_backward = z, None
        elif type(activation).forward is Activation.forward:
            out, activation_backward = activation.apply_checked(xp, z)
        else:
            out, activation_backward = activation.forward(z, training)

        @can_skip_input_grad
        def backward(dout, input_grad=True):
            check_output_shape(dout, out, "Conv2D.backward")
            delta = dout if activation_backward is None else activation_backward(dout)
            delta2 = xp.reshape(xp.permute_dims(delta, (1, 0, 2, 3)), (weight.shape[0], -1))
            if weight.trainable:
                weight.accumulate(xp.reshape(delta2 @ cols.T, weight.shape))
            if bias is not None and bias.trainable:
                bias.accumulate(xp.sum(delta2, axis=1))
            if not input_grad:
                return None
            dcols = xp.reshape(weight.value, (weight.shape[0], -1)).T @ delta2
            return unpad2d(ops.col2im(dcols, padded_shape, kernel_size, stride, dilation), pads)

        return out, backward

    def _check_input(self, xp, x):
        check_images(x, self.in_channels, "in_channels", "Conv2D")
        check_float_array(xp, x, "x", "Conv2D")
        check_same_dtype(x, self.weight.value, "x", "the layer's weight", "Conv2D")
        check_fits("Conv2D", x, self.kernel_size, self.dilation, self._pads)

    def get_config(self) -> dict:
        return {
            "in_channels": self.in_channels, "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size), "stride": list(self.stride),
            "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
            "dilation": list(self.dilation), "bias": self.bias is not None,
            "activation": None if self.activation is None else layer_config(self.activation),
            "dtype": dtype_name(self.weight.dtype),
        }

    @classmethod
    def from_config(cls, config: dict) -> "Conv2D":
        activation = config.get("activation")
        config = {**config, "activation": None if activation is None else layer_from_config(activation)}
        return cls(**config)

    def __repr__(self) -> str:
        extra = "" if self.stride == (1, 1) else f", stride={self.stride}"
        extra += "" if self.padding in ((0, 0), "valid") else f", padding={self.padding!r}"
        extra += "" if self.dilation == (1, 1) else f", dilation={self.dilation}"
        extra += "" if self.bias is not None else ", bias=False"
        extra += "" if self.activation is None else f", activation={self.activation!r}"
        return f"Conv2D({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}{extra})"
