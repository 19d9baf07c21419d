"""Pooling over the height and width of NCHW images, with PyTorch's conventions: the windows
are gathered with ``Ops.im2col`` (each channel of each sample as its own one-channel image),
reduced over the window axis, and the backward adds each window's gradient back with
``Ops.col2im``, the same adjoint the convolution uses.
"""

from __future__ import annotations

import math

from ...backend import namespace_of, ops_for
from ...utils.validation import check_float_array, check_images, check_output_shape, check_pair
from ..layer import Layer
from .conv import check_fits, out_size, pad2d, unpad2d


class _Pool2D(Layer):
    """What max and average pooling share: the arguments, the checks and the windows."""

    _pad_value = 0.0

    def __init__(self, kernel_size, stride=None, padding=0):
        where = type(self).__name__
        self.kernel_size = check_pair(kernel_size, "kernel_size", where, minimum=1)
        self.stride = self.kernel_size if stride is None else check_pair(stride, "stride", where, minimum=1)
        self.padding = check_pair(padding, "padding", where, minimum=0)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            # PyTorch's rule: a wider padding would leave windows holding nothing but padding
            raise ValueError(f"{where}: padding must be at most half of kernel_size, got padding "
                             f"{self.padding} for kernel_size {self.kernel_size}")

    def _windows(self, x):
        """(xp, the windows (kh kw, N C out_h out_w), the padded shape, pads, output shape)."""
        where = type(self).__name__
        xp = namespace_of(x=x)
        check_images(x, None, "", where)
        check_float_array(xp, x, "x", where)
        ph, pw = self.padding
        pads = (ph, ph, pw, pw)
        check_fits(where, x, self.kernel_size, (1, 1), pads)
        n, c, height, width = x.shape
        out_h = out_size(height, self.kernel_size[0], self.stride[0], 1, 2 * ph)
        out_w = out_size(width, self.kernel_size[1], self.stride[1], 1, 2 * pw)
        padded = pad2d(xp, xp.reshape(x, (n * c, 1, height, width)), pads, self._pad_value)
        cols = ops_for(xp).im2col(padded, self.kernel_size, self.stride, (1, 1))
        return xp, cols, tuple(padded.shape), pads, (n, c, out_h, out_w)

    def _scatter(self, xp, dcols, padded_shape, pads, x_shape):
        """The windows' gradients added back onto the pixels they were read from: dL/dx."""
        dx = ops_for(xp).col2im(dcols, padded_shape, self.kernel_size, self.stride, (1, 1))
        return xp.reshape(unpad2d(dx, pads), x_shape)

    def get_config(self) -> dict:
        return {"kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": list(self.padding)}

    def __repr__(self) -> str:
        extra = "" if self.stride == self.kernel_size else f", stride={self.stride}"
        extra += "" if self.padding == (0, 0) else f", padding={self.padding}"
        return f"{type(self).__name__}(kernel_size={self.kernel_size}{extra})"


class MaxPool2D(_Pool2D):
    """``MaxPool2D(kernel_size, stride=None, padding=0)``: the largest value of each window,
    as ``torch.nn.MaxPool2d`` (no dilation, floor output size).

    x: (batch, channels, height, width), any channel count; output (batch, channels, out_h,
    out_w) with ``out_h = floor((height + 2 ph - kh) / sh) + 1``. ``stride`` defaults to
    ``kernel_size`` (windows side by side); ``padding`` pads with -inf, so a padded position
    never wins, and may be at most half the kernel (PyTorch's rule).

    Backward routes each window's gradient to its arg-max; a pixel that is the maximum of
    several overlapping windows gets the sum. Ties: the whole gradient goes to the FIRST
    maximal element of the window in row-major order (top row first, then left to right), as
    PyTorch's CPU kernel does; it is not split between the tied elements.

    Raises ValueError for bad arguments, an x that is not 4-D or too small for one window;
    TypeError for a non-float x.
    """

    _pad_value = -math.inf

    def forward(self, x, training: bool = True):
        xp, cols, padded_shape, pads, out_shape = self._windows(x)
        x_shape = tuple(x.shape)
        winner = xp.argmax(cols, axis=0)  # first maximum on ties, the documented routing
        out = xp.reshape(xp.max(cols, axis=0), out_shape)
        taps = cols.shape[0]
        del cols

        def backward(dout):
            check_output_shape(dout, out, "MaxPool2D.backward")
            tap = xp.reshape(xp.arange(taps, dtype=winner.dtype, device=winner.device), (-1, 1))
            dcols = xp.where(tap == winner, xp.reshape(dout, (1, -1)), 0.0)
            return self._scatter(xp, dcols, padded_shape, pads, x_shape)

        return out, backward


class AvgPool2D(_Pool2D):
    """``AvgPool2D(kernel_size, stride=None, padding=0)``: the mean of each window, as
    ``torch.nn.AvgPool2d`` with its defaults (``count_include_pad=True``, floor output size):
    padding adds zeros that COUNT in the mean, so a window hanging over the border is divided
    by kh kw all the same. Shapes and errors as ``MaxPool2D``; backward gives each pixel of a
    window 1/(kh kw) of the window's gradient, summed over the windows it is in.
    """

    def forward(self, x, training: bool = True):
        xp, cols, padded_shape, pads, out_shape = self._windows(x)
        x_shape, taps = tuple(x.shape), cols.shape[0]
        out = xp.reshape(xp.sum(cols, axis=0) / taps, out_shape)
        del cols

        def backward(dout):
            check_output_shape(dout, out, "AvgPool2D.backward")
            share = xp.reshape(dout / taps, (1, -1))
            return self._scatter(xp, xp.broadcast_to(share, (taps, share.shape[1])), padded_shape,
                                 pads, x_shape)

        return out, backward


class GlobalAvgPool2D(Layer):
    """``GlobalAvgPool2D()``: the mean of each channel over height and width, (batch,
    channels, height, width) to (batch, channels), as ``torch.nn.AdaptiveAvgPool2d(1)``
    followed by a flatten. Raises ValueError for an x that is not 4-D, TypeError for a
    non-float x."""

    def forward(self, x, training: bool = True):
        xp = namespace_of(x=x)
        check_images(x, None, "", "GlobalAvgPool2D")
        check_float_array(xp, x, "x", "GlobalAvgPool2D")
        n, c, height, width = x.shape
        out = xp.mean(x, axis=(2, 3))

        def backward(dout):
            check_output_shape(dout, out, "GlobalAvgPool2D.backward")
            share = xp.reshape(dout / (height * width), (n, c, 1, 1))
            return xp.zeros((n, c, height, width), dtype=dout.dtype, device=dout.device) + share

        return out, backward

    def get_config(self) -> dict:
        return {}
