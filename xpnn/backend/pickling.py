"""Pickling objects that hold backend arrays: what travels is host (NumPy) data, and the arrays
are made again on the active backend of the process that unpickles.

The rule: a pickle holds a host copy of every array and no backend object (no namespace, no
``Ops``, no device handle); unpickling makes each array anew with ``asarray``, so it lands on
the unpickling process's active backend (``XPNN_BACKEND``, or an enclosing ``use_backend``),
in its saved dtype. This is xpnn's rule for every new array (the active backend decides where
new arrays are made) applied to the arrays a pickle makes, and it is what a cluster needs: a
process on a CPU-only machine can load what a GPU worker trained and the converse, and each
worker of a hyper-parameter search computes where its own ``XPNN_BACKEND`` says.
scikit-learn's array-API estimators keep arrays in the namespace they were fitted in; they
never cross machines with different devices, which is the case this rule is for.

``copy.deepcopy`` is not a trip between processes: it keeps every array on its own backend.

An owner of arrays wraps them in its ``__getstate__`` with ``portable(tree)`` and unwraps them in
its ``__setstate__`` with ``unwrapped(tree)``; ``tree`` is an array, or lists, tuples and dicts
of arrays and other values, nested.
"""

from __future__ import annotations

from .arrays import asarray, copy_of, is_array, to_numpy


class Portable:
    """One backend array in a pickled state: pickled as host data and rebuilt on the active
    backend (``_rebuilt``); deep-copied on its own backend."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __reduce__(self):
        return _rebuilt, (to_numpy(self.array),)

    def __deepcopy__(self, memo):
        return Portable(copy_of(self.array))


def _rebuilt(host) -> Portable:
    """The unpickling side of ``Portable``: ``host`` (a NumPy array) on the active backend."""
    return Portable(asarray(host))


def portable(tree):
    """``tree`` with every backend array wrapped in a ``Portable``; lists, tuples and dicts are
    copied (shallow), every other value is kept as it is."""
    if is_array(tree):
        return Portable(tree)
    if type(tree) in (list, tuple):  # exactly: a named tuple is kept as it is
        return type(tree)(portable(item) for item in tree)
    if type(tree) is dict:
        return {key: portable(value) for key, value in tree.items()}
    return tree


def unwrapped(tree):
    """``portable``'s inverse: every ``Portable`` in ``tree`` replaced by its array."""
    if isinstance(tree, Portable):
        return tree.array
    if type(tree) in (list, tuple):
        return type(tree)(unwrapped(item) for item in tree)
    if type(tree) is dict:
        return {key: unwrapped(value) for key, value in tree.items()}
    return tree
