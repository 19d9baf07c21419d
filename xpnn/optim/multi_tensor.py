"""Optimizer state for several parameters kept in one flat buffer per slot: the multi-tensor
("foreach", as PyTorch calls it) path of an update rule.

A small network's training step is bound by the number of array operations, not by their
size: Adam on a 2-layer MLP is 11 operations per parameter, 44 in all. Run on the
concatenation of all gradients it is 11 operations once, plus one concat and a slice per
parameter to apply the result. The rule is elementwise, and an elementwise operation gives
each element the same result whichever array holds it, so the numbers are bit for bit those
of the per-parameter path.

While a ``MultiTensorState`` exists its buffers are the only copy of the state of its parameters.
Nothing here needs slices to be views (the array API does not promise they are): the
per-parameter arrays are cut out of the buffers when the optimizer saves its state or goes
back to per-parameter updates, and concatenated again when it comes back.
"""

from __future__ import annotations

import math


# Past this many bytes the path loses, and badly: each step's fresh flat temporaries (the
# concatenated gradient, the update) no longer come from the allocator's free lists but from
# new pages (glibc serves 128 KiB and more with mmap), and page faults cost more than the
# operations saved (benchmarks/README.md has the measurements).
MAX_BYTES = 2**17


def fits(params, xp) -> bool:
    """Whether ``params`` (one dtype) are small enough together for this path to pay."""
    values = sum(math.prod(p.shape) for p in params)
    return values * (xp.finfo(params[0].value.dtype).bits // 8) < MAX_BYTES


class MultiTensorState:
    """The layout of ``params`` end to end in one 1-d array, and a flat buffer per slot name
    (``buffers``; empty until the rule makes its state, as the per-parameter path does)."""

    def __init__(self, xp, params, slots: list[dict], names):
        self.xp = xp
        self.ids = tuple(id(p) for p in params)
        self.shapes = [p.shape for p in params]
        self.bounds, end = [], 0
        for shape in self.shapes:
            size = math.prod(shape)
            self.bounds.append((end, end + size))
            end += size
        self.buffers = ({name: self.gather([slot[name] for slot in slots]) for name in names}
                        if slots else {})

    def gather(self, arrays):
        """One new 1-d array holding ``arrays`` (one per parameter, in order) end to end."""
        return self.xp.concat(arrays, axis=None)  # axis=None: flattened, no reshape calls

    def pieces(self, flat) -> list:
        """``flat`` cut back into one array per parameter, each of its parameter's shape;
        views or copies, as the backend gives them: fine for reading."""
        xp = self.xp
        return [flat[start:stop] if len(shape) == 1 else xp.reshape(flat[start:stop], shape)
                for (start, stop), shape in zip(self.bounds, self.shapes)]

    def slots(self) -> dict:
        """``{id(parameter): {slot name: array}}``, cut out of the buffers."""
        cut = {name: self.pieces(buffer) for name, buffer in self.buffers.items()}
        return {pid: {name: arrays[i] for name, arrays in cut.items()}
                for i, pid in enumerate(self.ids)}
