"""In-place kernels for array libraries whose functions can write into a given array (``out=``):
the backend-specific fast path of the optimizers' hot update, reached through
``backend.fused_kernels(xp)``; the generic array-API code beside each call is the reference.

The array API makes a new array for every result. For a parameter of millions of values that
is four fresh arrays of its size an Adam step, and on the CPU they come back as page faults
whenever the allocator has given the memory back to the system (W4, 1024-2048-2048-10: about
2,300 a step). Here every intermediate goes into one scratch array the caller owns. Each
kernel makes the generic code's operations in the same order on the same operands, so the
numbers are bit for bit the same (tests/test_kernels.py).
"""

from __future__ import annotations


class OutKernels:
    """Kernels over a native array module with NumPy's ufunc signature (``f(a, b, out=c)``)."""

    def __init__(self, native):
        self._multiply, self._divide, self._sqrt = native.multiply, native.divide, native.sqrt

    def adam_update(self, m, v, grad, scratch, *, beta_1, beta_2, eps, scale):
        """``Adam._step_size``: moves the moments ``m`` and ``v`` in place and returns the
        step to subtract, computed in ``scratch`` (an array of grad's shape and dtype that
        aliases none of the others)."""
        multiply = self._multiply
        m *= beta_1
        multiply(grad, 1.0 - beta_1, out=scratch)
        m += scratch
        v *= beta_2
        multiply(grad, grad, out=scratch)
        scratch *= 1.0 - beta_2
        v += scratch
        self._sqrt(v, out=scratch)
        scratch += eps
        self._divide(m, scratch, out=scratch)
        scratch *= scale
        return scratch
