"""Random numbers: the host stream that parameter initialisation draws from (``set_seed``,
``seeded``, ``rng``), and ``DeviceRandom``, the streams that layers draw masks from while
training.

Initial weights are drawn on the host with a seeded NumPy Generator and then moved to the
device, so the same seed gives bit-identical weights on every backend.
"""

from __future__ import annotations

import contextlib

import numpy

from .arrays import backend_name_of, namespace_of

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
    """Random numbers drawn where the arrays live: NumPy's Generator on the host, CuPy's on the
    GPU (no host round trip per dropout mask). array_api_strict, having no generator of its
    own, draws on the host. One seed gives one reproducible stream per backend; the NumPy
    stream's state can be saved and restored for exact resumption."""

    def __init__(self, seed=None):
        if isinstance(seed, bool) or (isinstance(seed, (int, numpy.integer)) and seed < 0):
            raise ValueError(f"DeviceRandom: seed must be None, a Generator or an int >= 0, got {seed!r}")
        if isinstance(seed, (int, numpy.integer)):
            self._seed = int(seed)
        else:  # None: the library stream; a Generator: one draw from it
            self._seed = int(rng(seed).integers(2**63))
        self._generators = {}

    def _generator(self, kind: str):
        if kind not in self._generators:
            if kind == "cupy":
                import cupy

                self._generators[kind] = cupy.random.default_rng(self._seed)
            else:
                self._generators[kind] = numpy.random.default_rng(self._seed)
        return self._generators[kind]

    def uniform(self, shape: tuple, like):
        """U[0, 1) of ``shape`` on the backend and in the dtype of ``like``."""
        xp = namespace_of(like=like)
        kind = backend_name_of(xp)
        generator = self._generator(kind)
        if kind == "cupy":
            return generator.random(tuple(shape), dtype=like.dtype)
        draws = generator.random(tuple(shape), dtype=numpy.float64)
        return xp.astype(xp.asarray(draws), like.dtype)

    def state_dict(self) -> dict:
        """JSON-able state; CuPy's generator state is not exported, so a CuPy run resumes
        with the same seed but a fresh stream."""
        host = self._generators.get("numpy") or self._generators.get("array_api_strict")
        return {
            "seed": self._seed,
            "host_state": None if host is None else host.bit_generator.state,
        }

    def load_state_dict(self, state: dict) -> None:
        self._seed = int(state["seed"])
        self._generators = {}
        if state.get("host_state") is not None:
            for kind in ("numpy", "array_api_strict"):
                generator = numpy.random.default_rng(self._seed)
                generator.bit_generator.state = state["host_state"]
                self._generators[kind] = generator


