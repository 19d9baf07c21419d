"""The fused-kernel seam (backend.fused_kernels, xpnn/_kernels.py): where a backend has
kernels, they give bit for bit the numbers of the generic array-API code they stand in for,
and they make no temporaries."""

import tracemalloc

import numpy as np
import pytest

import xpnn
from xpnn import backend
from xpnn.optimizers import Adam, AdamW
from xpnn.parameter import Parameter


def test_the_seam_offers_kernels_for_numpy_only(xp):
    kernels = backend.fused_kernels(xp)
    if backend.backend_name_of(xp) == "numpy":
        assert kernels is not None and hasattr(kernels, "adam_update")
    else:  # array_api_strict has no out=; CuPy waits for a GPU measurement
        assert kernels is None


@pytest.fixture
def generic_only(monkeypatch):
    """Turn the seam off: every caller takes its generic array-API path."""
    monkeypatch.setattr(backend, "fused_kernels", lambda xp: None)


def _run(make_optimizer, shapes, dtype, steps=6):
    rng = np.random.default_rng(3)
    params = [Parameter(xpnn.asarray(rng.standard_normal(shape), dtype=dtype), name=f"p{i}")
              for i, shape in enumerate(shapes)]
    opt = make_optimizer()
    for _ in range(steps):
        for p in params:
            p.grad = xpnn.asarray(rng.standard_normal(p.shape), dtype=dtype)
        opt.step(params)
    return [xpnn.to_numpy(p.value).copy() for p in params], opt.state_dict()


# 300 x 200 floats is past the multi-tensor path's size limit: per parameter. The small set
# goes through the flat path (xpnn/_flat.py), which uses the same kernel on the concatenation.
SHAPES = {"per-parameter": [(300, 200), (200,), (200, 7)], "flat": [(6, 5), (5,), (5, 3), (3,)]}
OPTIMIZERS = {"adam": lambda: Adam(0.01), "adam-l2-clipped": lambda: Adam(0.02, weight_decay=0.1, clip_norm=1.0),
              "adamw": lambda: AdamW(0.01, weight_decay=0.05)}


@pytest.mark.parametrize("layout", SHAPES)
@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_adam_kernel_gives_the_generic_numbers_bit_for_bit(layout, name, dtype, monkeypatch):
    with xpnn.use_backend("numpy"):
        fused_values, fused_state = _run(OPTIMIZERS[name], SHAPES[layout], dtype)
        monkeypatch.setattr(backend, "fused_kernels", lambda xp: None)
        generic_values, generic_state = _run(OPTIMIZERS[name], SHAPES[layout], dtype)
    for fused, generic in zip(fused_values, generic_values):
        assert fused.dtype == dtype
        np.testing.assert_array_equal(fused, generic)
    for fused, generic in zip(fused_state["slots"], generic_state["slots"]):
        for slot in ("m", "v"):
            np.testing.assert_array_equal(fused[slot], generic[slot])


def test_adam_kernel_matches_generic_on_strict_too(generic_only):
    """The generic path is the one array_api_strict and CuPy run: same numbers as NumPy's kernel."""
    with xpnn.use_backend("numpy"):
        reference, _ = _run(OPTIMIZERS["adam"], SHAPES["per-parameter"], "float64")
    pytest.importorskip("array_api_strict")
    with xpnn.use_backend("array_api_strict"):
        strict, _ = _run(OPTIMIZERS["adam"], SHAPES["per-parameter"], "float64")
    for a, b in zip(strict, reference):
        np.testing.assert_array_equal(a, b)


def test_adam_kernel_makes_no_parameter_sized_temporaries():
    """After the first step (which makes the moments and the scratch), a step on a 4 MB
    parameter allocates nothing of its size: NumPy reports its buffers to tracemalloc."""
    with xpnn.use_backend("numpy"):
        p = Parameter(xpnn.asarray(np.ones((1024, 1024)), dtype="float32"))
        p.grad = xpnn.asarray(np.full((1024, 1024), 0.5), dtype="float32")
        opt = Adam(0.01)
        opt.step([p])
        tracemalloc.start()
        try:
            opt.step([p])
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 4 * 1024 * 1024 // 4, f"a step allocated up to {peak} bytes"


def test_one_scratch_buffer_per_dtype_grown_to_the_largest_parameter():
    with xpnn.use_backend("numpy"):
        opt = Adam(0.01)
        for shape in [(10, 10), (300, 200), (5,)]:
            p = Parameter(xpnn.asarray(np.ones(shape), dtype="float32"))
            p.grad = xpnn.asarray(np.ones(shape), dtype="float32")
            opt.step([p])
    (buffer,) = opt._scratch_buffers.values()
    assert buffer.shape == (300 * 200,)
