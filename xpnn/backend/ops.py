"""``Ops``: the hot operations of one array namespace, written once against the array API in
the base class, and overridden per library where that library can do them faster.

Callers ask ``ops_for(xp)`` and call the method; they never branch on whether a fast path
exists. The generic method is the reference: an override must give the same numbers (bit for
bit where it makes the same operations in the same order), and tests/test_ops.py compares
every override with it. An ``Ops`` owns whatever scratch memory its overrides need.

- ``Ops``: any array-API namespace (array_api_strict, CuPy until its kernels are measured).
- ``NumPyOps``: NumPy's ufuncs write into a given array (``out=``), so Adam's update puts
  every intermediate into one scratch array, and ``random_bits`` each Philox round into arrays
  made once per call, instead of making a new array per operation: for a large array those
  fresh arrays come back as page faults. ``im2col`` copies every window out of one
  ``sliding_window_view`` (3.3x the generic kh * kw stacked slices for a 5x5 convolution of
  (64, 32, 12, 12) float32, 3.4 ms against 11.4). ``col2im`` has no override: adding the slices
  in place with ``out=`` measured the same as the generic method (10.1 ms against 9.8).

Every method here must also keep a GPU from waiting: no ``float()``/``bool()`` of an array,
no boolean-mask indexing. That is why ``clip`` and ``sign`` are here: array-api-compat's
versions read a count back from the device on every call.
"""

from __future__ import annotations

import math
import threading

import numpy

from .arrays import device_of
from .numpy_wrapper import numpy_namespace
from .selection import namespace

# Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3",
# SC 2011), the generator cuRAND, JAX and PyTorch's CUDA dropout use: multipliers and the
# Weyl increments of the key, from the paper and the Random123 reference implementation.
_PHILOX_M0, _PHILOX_M1 = 0xD2511F53, 0xCD9E8D57
_PHILOX_W0, _PHILOX_W1 = 0x9E3779B9, 0xBB67AE85
_LOW_32 = 0xFFFFFFFF

# erf: W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23
# (1969), 631-637: three rational approximations on |x| <= 0.46875, 0.46875 < |x| <= 4 and
# |x| > 4 with the published coefficients.
_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
      3.20937758913846947e03, 1.85777706184603153e-1)
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
      2.84423683343917062e03)
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
      2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
      2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
      1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
      3.43936767414372164e03, 1.23033935480374942e03)
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
      1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1,
      6.05183413124413191e-2, 2.33520497626869185e-3)
_ONE_OVER_SQRT_PI = 0.56418958354775628695


def _ratio(t, numerator_lead, numerator, denominator):
    """Cody's Horner scheme: (((lead*t + n0)*t + n1)...)/((t + d0)*t + d1 ...)."""
    num = numerator_lead * t
    den = t
    for n, d in zip(numerator[:-1], denominator[:-1]):
        num = (num + n) * t
        den = (den + d) * t
    return (num + numerator[-1]) / (den + denominator[-1])


def _out_size(size: int, kernel: int, stride: int, dilation: int) -> int:
    """PyTorch's output length of a convolution or pooling over an (already padded) axis."""
    return (size - dilation * (kernel - 1) - 1) // stride + 1


def _window(offset: int, dilation: int, stride: int, count: int) -> slice:
    """The input positions tap ``offset`` of the kernel reads over ``count`` outputs."""
    start = offset * dilation
    return slice(start, start + stride * (count - 1) + 1, stride)


class Ops:
    """Generic array-API implementations; ``xp`` is the namespace they compute with."""

    def __init__(self, xp):
        self.xp = xp

    def __reduce__(self):
        # a namespace (a module) and scratch memory cannot travel: an Ops unpickles as the
        # Ops of the active backend, where the arrays of its pickled holder are made again
        # (xpnn/backend/pickling.py)
        return _active_ops, ()

    # ------------------------------------------------------------------ elementwise
    def clip(self, x, low, high):
        """``x`` limited to [low, high] (Python numbers); NaN stays NaN."""
        xp = self.xp
        return xp.minimum(xp.maximum(x, low), high)

    def sign(self, x):
        """-1, 0 or 1 in x's dtype; NaN stays NaN (as the standard's ``sign``)."""
        xp = self.xp
        signs = xp.astype(x > 0, x.dtype) - xp.astype(x < 0, x.dtype)
        return xp.where(xp.isnan(x), x, signs)

    def erf(self, x):
        """The error function, elementwise, in the dtype of ``x`` (Cody's approximations: about
        1e-16 absolute in float64, measured max 2.2e-16 against math.erf; within float32
        rounding in float32, measured 1.4e-7). All three branches are computed and one is
        selected per element (``where``), the array-API way of branching."""
        xp, clip = self.xp, self.clip
        y = xp.abs(x)
        small = x * _ratio(y * y, _A[4], _A[:4], _B)
        middle_y = clip(y, 0.46875, 4.0)
        erfc_middle = xp.exp(-middle_y * middle_y) * _ratio(middle_y, _C[8], _C[:8], _D)
        large_y = clip(y, 4.0, 27.0)  # beyond 27, erfc underflows float64: erf is exactly +-1
        inv_sq = 1.0 / (large_y * large_y)
        erfc_large = xp.exp(-large_y * large_y) * (
            _ONE_OVER_SQRT_PI - inv_sq * _ratio(inv_sq, _P[5], _P[:5], _Q)
        ) / large_y
        erfc = xp.where(y <= 4.0, erfc_middle, erfc_large)
        outer = xp.where(x < 0, erfc - 1.0, 1.0 - erfc)
        return xp.where(y <= 0.46875, small, outer)

    # ------------------------------------------------------------------ softmax cross-entropy
    def log_softmax(self, z):
        """``z - max z - log sum exp(z - max z)`` along the last axis: the row maximum is
        subtracted first, so no exp overflows (finite for logits of +-1e4 in float32)."""
        xp = self.xp
        shifted = z - xp.max(z, axis=-1, keepdims=True)
        return shifted - xp.log(xp.sum(xp.exp(shifted), axis=-1, keepdims=True))

    def softmax_cross_entropy_grad(self, log_p, q, *, scale, rows_sum_to_one):
        """d/dz of ``-scale sum(q log_softmax(z))`` from ``log_p = log_softmax(z)`` and the
        target rows ``q``: ``scale (softmax(z) sum(q) - q)`` row by row, which is
        ``scale (softmax(z) - q)`` when every row of q sums to exactly 1 (one-hot labels: say
        so with ``rows_sum_to_one`` and the row sums are skipped)."""
        xp = self.xp
        p = xp.exp(log_p)
        if not rows_sum_to_one:
            p *= xp.sum(q, axis=-1, keepdims=True)  # the gradient stays exact for any targets
        p -= q
        p *= scale
        return p

    # ------------------------------------------------------------------ random bits
    def random_bits(self, size: int, *, key: int, counter: int, offset: int = 0):
        """``size`` random 32-bit words (uint32, shape (size,)) of the Philox4x32-10 stream
        ``key`` (an int < 2**64) at draw ``counter`` (an int < 2**64): word ``i`` is output
        ``i % 4`` of the block whose counter is (i // 4, 0, counter low 32 bits, counter high
        32 bits). The same key and counter give the same words on every backend, whatever the
        size; a counter is used once per draw, so draws never overlap. ``offset`` >= 0 starts
        at word ``offset`` of the draw: words ``offset .. offset + size - 1``, the slice of a
        larger draw that one process of a data-parallel job needs (``xpnn.distributed``).
        Written with unsigned integer operations only: products of two 32-bit words are
        taken in uint64."""
        xp = self.xp
        first, skip = divmod(offset, 4)
        blocks = -(-(skip + size) // 4)
        u64 = xp.uint64
        c0 = xp.arange(first, first + blocks, dtype=u64)
        c1 = xp.zeros((blocks,), dtype=u64)
        c2 = xp.full((blocks,), counter & _LOW_32, dtype=u64)
        c3 = xp.full((blocks,), counter >> 32, dtype=u64)
        k0, k1 = key & _LOW_32, key >> 32
        for _ in range(10):
            p0, p1 = c0 * _PHILOX_M0, c2 * _PHILOX_M1  # < 2**64: exact in uint64
            hi0, lo0 = p0 >> 32, p0 & _LOW_32
            hi1, lo1 = p1 >> 32, p1 & _LOW_32
            c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
            k0, k1 = (k0 + _PHILOX_W0) & _LOW_32, (k1 + _PHILOX_W1) & _LOW_32
        words = xp.reshape(xp.stack([c0, c1, c2, c3], axis=1), (-1,))
        return xp.astype(words[skip:skip + size], xp.uint32)

    # ------------------------------------------------------------------ convolution
    def im2col(self, x, kernel_size, stride, dilation):
        """The patches of a convolution as the columns of one matrix, so that a convolution
        is one matmul: ``x`` (batch, channels, height, width), already padded, gives
        ``(channels * kh * kw, batch * out_h * out_w)``, row ``(c, i, j)`` (c slowest, the
        order of a weight of shape (out, channels, kh, kw) flattened) holding input pixel
        ``(c, oy * sh + i * dh, ox * sw + j * dw)`` of every sample and output position
        ``(n, oy, ox)`` (n slowest). ``out = floor((size - d (k - 1) - 1) / s) + 1``.

        Channels go first so the batch joins the output positions: the convolution is then
        one (out, C kh kw) x (C kh kw, N out_h out_w) matmul rather than one per sample.
        Built from kh * kw strided slices, the array API having no ``as_strided``."""
        xp = self.xp
        (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
        n, c, height, width = x.shape
        out_h, out_w = _out_size(height, kh, sh, dh), _out_size(width, kw, sw, dw)
        channels_first = xp.permute_dims(x, (1, 0, 2, 3))
        patches = [channels_first[:, :, _window(i, dh, sh, out_h), _window(j, dw, sw, out_w)]
                   for i in range(kh) for j in range(kw)]
        return xp.reshape(xp.stack(patches, axis=1), (c * kh * kw, n * out_h * out_w))

    def col2im(self, cols, shape, kernel_size, stride, dilation):
        """The adjoint of ``im2col``: each column entry added back onto the input pixel it was
        read from (pixels read by several windows get the sum). ``shape`` is the padded input's
        (batch, channels, height, width); returns an array of that shape. The array API has no
        scatter-add: the kh * kw slices are added one after another, each a strided slice."""
        xp = self.xp
        (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
        n, c, height, width = shape
        out_h, out_w = _out_size(height, kh, sh, dh), _out_size(width, kw, sw, dw)
        blocks = xp.reshape(cols, (c, kh, kw, n, out_h, out_w))
        total = xp.zeros((c, n, height, width), dtype=cols.dtype, device=device_of(cols))
        for i in range(kh):
            for j in range(kw):
                total[:, :, _window(i, dh, sh, out_h), _window(j, dw, sw, out_w)] += blocks[:, i, j, ...]
        return xp.permute_dims(total, (1, 0, 2, 3))

    # ------------------------------------------------------------------ optimizer updates
    def sgd_momentum(self, buf, grad, *, momentum, nesterov):
        """PyTorch's momentum buffer: ``buf = momentum buf + grad`` in place; returns the
        update, ``buf`` or, with Nesterov, ``grad + momentum buf``."""
        buf *= momentum
        buf += grad
        return grad + momentum * buf if nesterov else buf

    def rmsprop_step(self, square_avg, grad, *, rho, eps):
        """``square_avg = rho square_avg + (1 - rho) grad^2`` in place; returns
        ``grad / (sqrt(square_avg) + eps)``."""
        square_avg *= rho
        square_avg += (1.0 - rho) * (grad * grad)
        return grad / (self.xp.sqrt(square_avg) + eps)

    def adam_step(self, m, v, grad, *, beta_1, beta_2, eps, scale):
        """Adam's moments moved in place (``m = beta_1 m + (1 - beta_1) grad``,
        ``v = beta_2 v + (1 - beta_2) grad^2``); returns ``scale m / (sqrt(v) + eps)``, the
        step to subtract. The array returned may be scratch memory of this Ops, valid until
        its next call: subtract it at once."""
        m *= beta_1
        m += (1.0 - beta_1) * grad
        v *= beta_2
        squared = grad * grad
        squared *= 1.0 - beta_2
        v += squared
        del squared  # before sqrt allocates: the allocator can hand its memory straight back
        denominator = self.xp.sqrt(v)
        denominator += eps
        step = m / denominator
        step *= scale
        return step


class NumPyOps(Ops):
    """NumPy: Adam's update and the Philox rounds write their intermediates with ``out=``."""

    def __init__(self, xp):
        super().__init__(xp)
        # dtype -> 1-d array grown to the largest request, one set per thread: optimizers
        # stepping in two threads must not write into each other's intermediates
        self._local = threading.local()

    def _scratch(self, like):
        """An array shaped like ``like``: a view of this thread's buffer for its dtype (NumPy
        slices and reshapes a contiguous buffer into views)."""
        buffers = self._local.__dict__.setdefault("buffers", {})
        size = math.prod(like.shape)
        buffer = buffers.get(like.dtype)
        if buffer is None or buffer.shape[0] < size:
            buffer = buffers[like.dtype] = numpy.empty((size,), dtype=like.dtype)
        return buffer[:size].reshape(like.shape)

    def random_bits(self, size: int, *, key: int, counter: int, offset: int = 0):
        # the generic method's rounds, each operation written into one of six arrays made once
        # per call instead of a new array per operation
        first, skip = divmod(offset, 4)
        blocks = -(-(skip + size) // 4)
        u64 = numpy.uint64
        c0, c1 = numpy.arange(first, first + blocks, dtype=u64), numpy.zeros(blocks, dtype=u64)
        c2, c3 = numpy.full(blocks, counter & _LOW_32, dtype=u64), numpy.full(blocks, counter >> 32, dtype=u64)
        t0, t1 = numpy.empty(blocks, dtype=u64), numpy.empty(blocks, dtype=u64)
        k0, k1 = key & _LOW_32, key >> 32
        for _ in range(10):
            numpy.multiply(c0, u64(_PHILOX_M0), out=t0)
            numpy.multiply(c2, u64(_PHILOX_M1), out=t1)
            numpy.bitwise_and(t0, u64(_LOW_32), out=c0)  # lo0, the next c3
            numpy.bitwise_and(t1, u64(_LOW_32), out=c2)  # lo1, the next c1
            numpy.right_shift(t0, u64(32), out=t0)
            numpy.bitwise_xor(t0, c3, out=t0)
            numpy.bitwise_xor(t0, u64(k1), out=t0)  # hi0 ^ c3 ^ k1, the next c2
            numpy.right_shift(t1, u64(32), out=t1)
            numpy.bitwise_xor(t1, c1, out=t1)
            numpy.bitwise_xor(t1, u64(k0), out=t1)  # hi1 ^ c1 ^ k0, the next c0
            c0, c1, c2, c3, t0, t1 = t1, c2, t0, c0, c3, c1
            k0, k1 = (k0 + _PHILOX_W0) & _LOW_32, (k1 + _PHILOX_W1) & _LOW_32
        words = numpy.empty((blocks, 4), dtype=numpy.uint32)
        for column, word in enumerate((c0, c1, c2, c3)):
            words[:, column] = word
        return words.reshape(-1)[skip:skip + size]

    def im2col(self, x, kernel_size, stride, dilation):
        # one strided view of every window (sliding_window_view) and one copy out of it, in
        # the generic method's row order, instead of kh * kw slices stacked
        (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
        n, c, height, width = x.shape
        out_h, out_w = _out_size(height, kh, sh, dh), _out_size(width, kw, sw, dw)
        span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
        windows = numpy.lib.stride_tricks.sliding_window_view(x, span, axis=(2, 3))
        windows = windows[:, :, : sh * (out_h - 1) + 1 : sh, : sw * (out_w - 1) + 1 : sw, ::dh, ::dw]
        # (n, c, out_h, out_w, kh, kw) -> (c, kh, kw, n, out_h, out_w)
        cols = numpy.empty((c, kh, kw, n, out_h, out_w), dtype=x.dtype)
        numpy.copyto(cols, windows.transpose(1, 4, 5, 0, 2, 3))
        return cols.reshape(c * kh * kw, n * out_h * out_w)

    def adam_step(self, m, v, grad, *, beta_1, beta_2, eps, scale):
        # the generic method's operations, in its order, on the same operands
        scratch = self._scratch(grad)
        m *= beta_1
        numpy.multiply(grad, 1.0 - beta_1, out=scratch)
        m += scratch
        v *= beta_2
        numpy.multiply(grad, grad, out=scratch)
        scratch *= 1.0 - beta_2
        v += scratch
        numpy.sqrt(v, out=scratch)
        scratch += eps
        numpy.divide(m, scratch, out=scratch)
        scratch *= scale
        return scratch


#: the Ops of each namespace, made on first use; put another Ops here to replace one (a test
#: that runs the generic methods on NumPy does)
OPS_BY_NAMESPACE: dict = {}


def _active_ops() -> Ops:
    return ops_for(namespace())


def ops_for(xp) -> Ops:
    """The Ops of namespace ``xp``: one per namespace for the life of the process."""
    ops = OPS_BY_NAMESPACE.get(xp)
    if ops is None:
        ops = OPS_BY_NAMESPACE[xp] = NumPyOps(xp) if xp is numpy_namespace() else Ops(xp)
    return ops
