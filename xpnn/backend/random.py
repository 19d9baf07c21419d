"""Random numbers: the host stream that parameter initialisation draws from (``set_seed``,
``seeded``, ``rng``), and ``DeviceRandom``, the streams that layers draw masks from while
training.

Initial weights are drawn on the host with a seeded NumPy Generator and then moved to the
device, so the same seed gives bit-identical weights on every backend.
"""

from __future__ import annotations

import contextlib
import math

import numpy

from .arrays import namespace_of
from .ops import ops_for

_host_rng = numpy.random.default_rng()


def set_seed(seed: int | None) -> None:
    """Seed the host generator that parameter initialisation draws from (all backends)."""
    global _host_rng
    _host_rng = numpy.random.default_rng() if seed is None else rng(seed)


@contextlib.contextmanager
def seeded(seed: int):
    """Within the block, the library stream starts from ``seed``; the previous stream is
    restored afterwards, so a test or a check does not disturb the caller's random state."""
    global _host_rng
    previous, _host_rng = _host_rng, rng(seed)
    try:
        yield _host_rng
    finally:
        _host_rng = previous


def rng(seed=None) -> "numpy.random.Generator":
    """A host NumPy Generator: ``None`` gives the library's seeded stream, an int a fresh one.

    Draws happen on the host and are then moved to the backend, so the same seed gives
    bit-identical weights on every backend.
    """
    if seed is None:
        return _host_rng
    if isinstance(seed, numpy.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, numpy.integer)) or seed < 0:
        raise TypeError(f"seed must be a non-negative int or a numpy Generator, got {seed!r}")
    return numpy.random.default_rng(int(seed))


class DeviceRandom:
    """The random stream a layer draws from while training (dropout masks): counter-based, so
    the same seed gives the same bits on NumPy, array_api_strict and CuPy, computed where the
    arrays live, and the whole state is two integers (``seed``, ``counter``).

    Each draw is the Philox4x32-10 stream keyed by the seed at the next counter value
    (``Ops.random_bits``): draw n of a run is the same words whichever backend, process or
    checkpoint it follows. ``seed`` is an int >= 0 (reduced modulo 2**64), or None to take one
    from the library stream (``xpnn.set_seed``), or a NumPy Generator to take one from it.

    A state saved by xpnn 0.1 (``{"seed", "host_state"}``, a NumPy PCG64 stream) loads too:
    the stream then goes on drawing from that generator, as the run that saved it did, so its
    resumed run is exact; its later checkpoints keep that form.
    """

    def __init__(self, seed=None):
        if isinstance(seed, bool) or (isinstance(seed, (int, numpy.integer)) and seed < 0):
            raise ValueError(f"DeviceRandom: seed must be None, a Generator or an int >= 0, got {seed!r}")
        if isinstance(seed, (int, numpy.integer)):
            self.seed = int(seed)
        else:  # None: the library stream; a Generator: one draw from it
            self.seed = int(rng(seed).integers(2**63))
        self.counter = 0
        self._legacy = None  # the NumPy generator of a stream restored from xpnn 0.1
        self._rows = None  # (first row, rows of the whole batch) while drawing for a share

    def set_batch_share(self, first: int | None, rows: int | None = None) -> None:
        """Draw, until told otherwise, rows ``first .. first + n - 1`` of what a draw for the
        whole batch of ``rows`` rows would give, ``n`` being the leading size asked for: the
        masks of one process's share of a batch are then the slice of the single-process
        masks (``xpnn.distributed``). ``first=None`` goes back to whole draws. Not saved in
        ``state_dict``: it belongs to the step, not to the stream."""
        if first is None:
            self._rows = None
            return
        if isinstance(first, bool) or not isinstance(first, int) or first < 0 or \
                isinstance(rows, bool) or not isinstance(rows, int) or rows <= first:
            raise ValueError(f"DeviceRandom.set_batch_share: need ints 0 <= first < rows, got first={first!r}, rows={rows!r}")
        if self._legacy is not None:
            raise ValueError("DeviceRandom.set_batch_share: a stream resumed from an xpnn 0.1 checkpoint draws "
                             "from a host generator, which cannot draw a slice")
        self._rows = (first, rows)

    def bits(self, shape: tuple, like):
        """Random uint32 words of ``shape`` on the backend of ``like`` (C order: word i of the
        draw is element i); moves the stream on by one draw. Under ``set_batch_share`` the
        words are rows of the whole batch's draw (shape[0] rows from the share's first)."""
        xp = namespace_of(like=like)
        size = math.prod(shape)
        offset = 0
        if self._rows is not None:
            first, rows = self._rows
            if not shape or first + shape[0] > rows:
                raise ValueError(f"DeviceRandom: a draw of shape {tuple(shape)} does not fit rows {first}.. of "
                                 f"a batch of {rows}")
            offset = first * (size // shape[0] if shape[0] else 0)
        words = ops_for(xp).random_bits(size, key=self.seed % 2**64, counter=self.counter % 2**64, offset=offset)
        self.counter += 1
        return xp.reshape(words, tuple(shape))

    def keep_mask(self, shape: tuple, like, rate: float):
        """A boolean array of ``shape`` on the backend of ``like``, each element True with
        probability 1 - ``rate`` (to within 2**-33): the survivors of dropout."""
        if self._legacy is not None:
            return self.uniform(shape, like) >= rate
        return self.bits(shape, like) >= min(round(rate * 2**32), 2**32 - 1)

    def uniform(self, shape: tuple, like):
        """U[0, 1) of ``shape`` on the backend and in the dtype of ``like``: 32 random bits per
        element, scaled by 2**-32 in float64 and then cast (a float32 may round up to 1.0)."""
        xp = namespace_of(like=like)
        if self._legacy is not None:  # the stream of a run started by xpnn 0.1
            draws = self._legacy.random(tuple(shape), dtype=numpy.float64)
            return xp.astype(xp.asarray(draws), like.dtype)
        scaled = xp.astype(self.bits(shape, like), xp.float64) * 2.0**-32
        return xp.astype(scaled, like.dtype)

    def state_dict(self) -> dict:
        """JSON-able state: the seed and the number of draws made."""
        if self._legacy is not None:
            return {"seed": self.seed, "host_state": self._legacy.bit_generator.state}
        return {"seed": self.seed, "counter": self.counter}

    def load_state_dict(self, state: dict) -> None:
        """Restore ``state_dict()`` output (or xpnn 0.1's); ValueError for anything else,
        before anything changes."""
        where = "DeviceRandom.load_state_dict"
        if not isinstance(state, dict) or "seed" not in state or not ({"counter", "host_state"} & set(state)):
            raise ValueError(f"{where}: expected {{'seed': int, 'counter': int}}, got {state!r:.200}")
        seed = state["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"{where}: seed must be an int >= 0, got {seed!r}")
        legacy = None
        if "counter" in state:
            counter = state["counter"]
            if isinstance(counter, bool) or not isinstance(counter, int) or counter < 0:
                raise ValueError(f"{where}: counter must be an int >= 0, got {counter!r}")
        else:
            counter = 0
            legacy = numpy.random.default_rng(seed)
            if state["host_state"] is not None:
                check_generator_state(state["host_state"])
                legacy.bit_generator.state = state["host_state"]
        self.seed, self.counter, self._legacy = seed, counter, legacy


def check_generator_state(state) -> None:
    """ValueError for a negative int anywhere in a NumPy generator's saved state (its counters
    and words are unsigned): NumPy 2 refuses one itself, NumPy 1.26 silently wraps it. The
    rest is left to NumPy's own setter."""
    if isinstance(state, dict):
        for value in state.values():
            check_generator_state(value)
    elif isinstance(state, int) and not isinstance(state, bool) and state < 0:
        raise ValueError(f"a generator's state holds unsigned integers, got {state}")
