"""The namespace xpnn computes with on NumPy arrays: ``array_api_compat.numpy``, with a few
functions replaced by the call they end in, each for the reason written beside it (the way
scikit-learn's ``_NumPyAPIWrapper`` specialises NumPy).

Every override returns what array-api-compat's function returns, with the same dtype, shape
and errors; tests/test_backend.py compares them over dtypes, shapes and arguments.
"""

from __future__ import annotations

import functools

import array_api_compat.numpy as compat
import numpy


class NumPyNamespace:
    """``array_api_compat.numpy``'s functions, held in the instance so that a lookup costs what
    a module attribute does; the methods below replace six of them."""

    __name__ = "xpnn.backend.numpy_wrapper"  # backend_name_of recognises it as numpy's

    # the two module-level dunders of the standard; compat's other dunders describe its module
    _NAMESPACE_DUNDERS = frozenset({"__array_api_version__", "__array_namespace_info__"})

    def __init__(self):
        own = set(type(self).__dict__)
        for key, value in vars(compat).items():
            if key not in own and (not key.startswith("__") or key in self._NAMESPACE_DUNDERS):
                setattr(self, key, value)
        self.__doc__ = compat.__doc__
        if compat.sum is not numpy.sum:  # NumPy 1.x: compat wraps the reductions itself
            self.sum, self.max, self.min = compat.sum, compat.max, compat.min

    # Reductions: NumPy's sum/max/min spend their time in argument handling before they call
    # the ufunc's reduce, several times a training step; reduce directly.
    @staticmethod
    def sum(x, /, *, axis=None, dtype=None, keepdims=False):
        return numpy.add.reduce(x, axis, dtype, None, keepdims)

    @staticmethod
    def max(x, /, *, axis=None, keepdims=False):
        return numpy.maximum.reduce(x, axis, None, None, keepdims)

    @staticmethod
    def min(x, /, *, axis=None, keepdims=False):
        return numpy.minimum.reduce(x, axis, None, None, keepdims)

    # array-api-compat checks the device argument before calling the method or NumPy's
    # function; with no device (every call xpnn makes) there is nothing to check.
    @staticmethod
    def astype(x, dtype, /, *, copy=True, device=None):
        if device is None and type(x) is numpy.ndarray:
            return x.astype(dtype, copy=copy)
        return compat.astype(x, dtype, copy=copy, device=device)

    @staticmethod
    def reshape(x, /, shape, *, copy=None):
        if copy is None and type(x) is numpy.ndarray:
            return x.reshape(shape)
        return compat.reshape(x, shape, copy=copy)

    @staticmethod
    def arange(start, /, stop=None, step=1, *, dtype=None, device=None):
        if device is None:
            return numpy.arange(start, stop, step, dtype=dtype)
        return compat.arange(start, stop, step, dtype=dtype, device=device)

    def __repr__(self) -> str:
        return "<xpnn's NumPy namespace (array_api_compat.numpy)>"

    def __reduce__(self):  # the one of the unpickling process (its functions include modules)
        return numpy_namespace, ()


@functools.lru_cache(maxsize=None)
def numpy_namespace() -> NumPyNamespace:
    """The one NumPyNamespace of the process."""
    return NumPyNamespace()
