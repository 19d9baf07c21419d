"""The Ops seam (xpnn/backend/ops.py): every per-library override gives the numbers of the
generic array-API method it stands in for, the NumPy optimizer kernel makes no temporaries,
and no hot path calls the array-api-compat functions that make a GPU wait."""

import pathlib
import re
import tracemalloc

import numpy as np
import pytest

import xpnn
from xpnn import backend
from xpnn.backend import ops as ops_module
from xpnn.backend.ops import NumPyOps, Ops
from xpnn.nn.parameter import Parameter
from xpnn.optim import SGD, Adam, AdamW, RMSprop


def _adam_case(rng, dtype):
    shape = (7, 5)
    arrays = [np.abs(rng.standard_normal(shape)).astype(dtype) if i == 1 else rng.standard_normal(shape).astype(dtype)
              for i in range(3)]
    return arrays, {"beta_1": 0.9, "beta_2": 0.999, "eps": 1e-8 * 0.3, "scale": 1e-3 * 1.7}


def _sgd_case(rng, dtype):
    return [rng.standard_normal((4, 3)).astype(dtype) for _ in range(2)], {"momentum": 0.9, "nesterov": True}


def _rmsprop_case(rng, dtype):
    return [np.abs(rng.standard_normal((4, 3))).astype(dtype), rng.standard_normal((4, 3)).astype(dtype)], \
        {"rho": 0.9, "eps": 1e-8}


def _elementwise_case(rng, dtype):
    x = rng.standard_normal((5, 6)).astype(dtype)
    x[0, :3] = [0.0, np.nan, -np.inf]
    return [x], {}


# the inputs each Ops method is compared on: (host arrays, keyword arguments)
CASES = {
    "adam_step": _adam_case, "sgd_momentum": _sgd_case, "rmsprop_step": _rmsprop_case,
    "clip": lambda rng, dtype: (_elementwise_case(rng, dtype)[0] + [-0.5, 0.7], {}),
    "sign": _elementwise_case,
    "log_softmax": lambda rng, dtype: ([(rng.standard_normal((6, 5)) * 30).astype(dtype)], {}),
    "softmax_cross_entropy_grad": lambda rng, dtype: (
        [np.log(np.full((4, 3), 1 / 3, dtype=dtype)), rng.random((4, 3)).astype(dtype)],
        {"scale": 0.25, "rows_sum_to_one": False}),
    "erf": lambda rng, dtype: ([np.concatenate([rng.standard_normal(50) * 3, [0.0, 0.46875, -4.0, 30.0, np.nan]]).astype(dtype)], {}),
    # a size that is not a multiple of 4, a key and a counter with both 32-bit halves in use
    # a non-square kernel, unequal strides and dilations, a padded-looking odd-sized image
    "im2col": lambda rng, dtype: ([rng.standard_normal((3, 2, 9, 8)).astype(dtype), (3, 2), (2, 1), (1, 2)], {}),
    "col2im": lambda rng, dtype: ([rng.standard_normal((2 * 3 * 2, 3 * 4 * 6)).astype(dtype), (3, 2, 9, 8),
                                   (3, 2), (2, 1), (1, 2)], {}),
    "random_bits": lambda rng, dtype: ([4 * 257 + 3], {"key": 2**63 + 0x1234567, "counter": 2**33 + 5}),
}
OVERRIDES = [(cls, name) for cls in (NumPyOps,) for name, member in vars(cls).items()
             if not name.startswith("_") and callable(member) and hasattr(Ops, name)]


def test_every_ops_method_has_a_comparison_case():
    public = {name for name, member in vars(Ops).items() if callable(member) and not name.startswith("_")}
    assert public == set(CASES)
    assert ("NumPyOps", "adam_step") in [(cls.__name__, name) for cls, name in OVERRIDES]


@pytest.mark.parametrize("cls, name", OVERRIDES, ids=[f"{c.__name__}.{n}" for c, n in OVERRIDES])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_an_override_gives_the_generic_numbers_bit_for_bit(cls, name, dtype):
    xp = backend.numpy_namespace()
    results = []
    for implementation in (Ops(xp), cls(xp)):
        arrays, kwargs = CASES[name](np.random.default_rng(5), dtype)
        args = [xp.asarray(a) if isinstance(a, np.ndarray) else a for a in arrays]
        out = getattr(implementation, name)(*args, **kwargs)
        # the result, and every array argument (the methods move their state in place)
        results.append([np.array(out, copy=True)] + [np.array(a, copy=True) for a in args if isinstance(a, np.ndarray)])
    for generic, override in zip(*results):
        assert generic.dtype == override.dtype
        np.testing.assert_array_equal(override, generic)


@pytest.mark.parametrize("name", sorted(CASES))
def test_generic_methods_agree_across_backends(name, other_backend):
    with xpnn.use_backend(other_backend) as xp:
        arrays, kwargs = CASES[name](np.random.default_rng(5), "float64")
        args = [xpnn.asarray(a) if isinstance(a, np.ndarray) else a for a in arrays]
        got = xpnn.to_numpy(getattr(backend.ops_for(xp), name)(*args, **kwargs))
    numpy_xp = backend.numpy_namespace()
    arrays, kwargs = CASES[name](np.random.default_rng(5), "float64")
    expected = getattr(Ops(numpy_xp), name)(*arrays, **kwargs)
    np.testing.assert_array_equal(got, expected)


def test_ops_for_gives_numpy_its_kernels_and_others_the_generic_methods(xp):
    ops = backend.ops_for(xp)
    assert ops is backend.ops_for(xp) and ops.xp is xp
    assert type(ops) is (NumPyOps if backend.backend_name_of(xp) == "numpy" else Ops)


# ---------------------------------------------------------------- through the optimizers

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


class CountingOps(Ops):
    """The generic methods, counted: proves a test ran the path it replaced."""

    def __init__(self, xp):
        super().__init__(xp)
        self.calls = 0

    def adam_step(self, *args, **kwargs):
        self.calls += 1
        return super().adam_step(*args, **kwargs)


# 300 x 200 floats is past the multi-tensor path's size limit: per parameter. The small set
# goes through the multi-tensor path, which calls the same Ops method on the concatenation.
SHAPES = {"per-parameter": [(300, 200), (200,), (200, 7)], "multi-tensor": [(6, 5), (5,), (5, 3), (3,)]}
OPTIMIZERS = {"adam": lambda: Adam(0.01), "adam-l2-clipped": lambda: Adam(0.02, weight_decay=0.1, clip_norm=1.0),
              "adamw": lambda: AdamW(0.01, weight_decay=0.05)}


@pytest.mark.parametrize("layout", SHAPES)
@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_numpy_adam_gives_the_generic_numbers_bit_for_bit(layout, name, dtype, monkeypatch):
    numpy_xp = backend.numpy_namespace()
    with xpnn.use_backend("numpy"):
        assert type(backend.ops_for(numpy_xp)) is NumPyOps
        fast_values, fast_state = _run(OPTIMIZERS[name], SHAPES[layout], dtype)
        generic = CountingOps(numpy_xp)
        monkeypatch.setitem(ops_module.OPS_BY_NAMESPACE, numpy_xp, generic)
        generic_values, generic_state = _run(OPTIMIZERS[name], SHAPES[layout], dtype)
    assert generic.calls == 6 * (1 if layout == "multi-tensor" else len(SHAPES[layout]))
    for fast, slow in zip(fast_values, generic_values):
        assert fast.dtype == dtype
        np.testing.assert_array_equal(fast, slow)
    for fast, slow in zip(fast_state["slots"], generic_state["slots"]):
        for slot in ("m", "v"):
            np.testing.assert_array_equal(fast[slot], slow[slot])


def test_numpy_adam_matches_the_generic_path_on_strict_too():
    """The generic path is the one array_api_strict and CuPy run: same numbers as NumPy's kernel."""
    with xpnn.use_backend("numpy"):
        reference, _ = _run(OPTIMIZERS["adam"], SHAPES["per-parameter"], "float64")
    pytest.importorskip("array_api_strict")
    with xpnn.use_backend("array_api_strict"):
        strict, _ = _run(OPTIMIZERS["adam"], SHAPES["per-parameter"], "float64")
    for a, b in zip(strict, reference):
        np.testing.assert_array_equal(a, b)


def test_numpy_adam_makes_no_parameter_sized_temporaries():
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


# ---------------------------------------------------------------- nothing that makes a GPU wait

def test_no_module_calls_the_namespaces_clip_or_sign():
    """array-api-compat's clip and sign read a count back from a CuPy device on every call;
    the library calls Ops.clip and Ops.sign instead."""
    package = pathlib.Path(xpnn.__file__).parent
    pattern = re.compile(r"\bxp\.(clip|sign)\(")
    offenders = [str(path.relative_to(package)) for path in package.rglob("*.py") if pattern.search(path.read_text())]
    assert offenders == []


def test_hot_paths_never_reach_the_namespaces_clip_or_sign(monkeypatch):
    def trips(*args, **kwargs):
        raise AssertionError("a hot path called the namespace's clip or sign")

    numpy_xp = backend.numpy_namespace()
    monkeypatch.setattr(numpy_xp, "clip", trips)
    monkeypatch.setattr(numpy_xp, "sign", trips)
    with pytest.raises(AssertionError, match="hot path"):  # the tripwire works
        numpy_xp.clip(np.ones(2), 0, 1)
    with xpnn.use_backend("numpy"):
        x = xpnn.asarray(np.linspace(-5, 5, 12).reshape(3, 4), dtype="float64")
        for layer in (xpnn.GELU(), xpnn.HardSigmoid(), xpnn.HardTanh()):
            out, backward = layer.forward(x)
            backward(xpnn.asarray(np.ones((3, 4))))
        probabilities = xpnn.asarray(np.linspace(0.0, 1.0, 12).reshape(3, 4))
        for loss, pred in ((xpnn.Huber(), x), (xpnn.MAE(), x), (xpnn.BinaryCrossEntropy(from_logits=False), probabilities)):
            _, loss_backward = loss.forward(pred, xpnn.asarray(np.full((3, 4), 0.25)))
            loss_backward()
        for opt in (SGD(0.1, clip_value=0.5), Adam(clip_value=0.5, clip_norm=1.0), RMSprop(clip_value=0.1)):
            p = Parameter(xpnn.asarray(np.ones(4)))
            p.grad = xpnn.asarray(np.array([-2.0, 0.1, 3.0, 0.0]))
            opt.step([p])


def test_optimizers_stepping_in_threads_give_the_numbers_of_a_sequential_run():
    """NumPyOps' scratch memory is per thread: two optimizers never share intermediates."""
    import threading

    shapes = [(300, 200), (200,)]
    with xpnn.use_backend("numpy"):
        sequential = [_run(lambda: Adam(0.01), shapes, "float32", steps=20)[0] for _ in range(4)]
        results = [None] * 4

        def train(index):
            with xpnn.use_backend("numpy"):
                results[index] = _run(lambda: Adam(0.01), shapes, "float32", steps=20)[0]

        threads = [threading.Thread(target=train, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for got, expected in zip(results, sequential):
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a, b)


def test_sign_and_clip_keep_nan_as_the_standard_does(xp):
    ops = backend.ops_for(xp)
    x = xpnn.asarray(np.array([np.nan, -2.0, -0.0, 0.0, 3.0, np.inf]))
    np.testing.assert_array_equal(xpnn.to_numpy(ops.sign(x)), [np.nan, -1.0, 0.0, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(xpnn.to_numpy(ops.clip(x, -1.0, 1.0)), [np.nan, -1.0, -0.0, 0.0, 1.0, 1.0])


def test_im2col_reads_the_pixels_of_its_definition_and_col2im_is_its_adjoint(xp):
    """Row (c, i, j), column (n, oy, ox) holds x[n, c, oy sh + i dh, ox sw + j dw]; and
    <im2col(x), g> = <x, col2im(g)>, the identity the convolution's backward relies on."""
    ops, rng = backend.ops_for(xp), np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 9, 8))
    kernel, stride, dilation = (3, 2), (2, 1), (1, 2)
    cols = xpnn.to_numpy(ops.im2col(xpnn.asarray(x, dtype="float64"), kernel, stride, dilation))
    blocks = cols.reshape(3, 3, 2, 2, 4, 6)
    for c, i, j, n, oy, ox in np.ndindex(blocks.shape):
        assert blocks[c, i, j, n, oy, ox] == x[n, c, oy * 2 + i, ox + j * 2]
    g = rng.standard_normal(cols.shape)
    back = xpnn.to_numpy(ops.col2im(xpnn.asarray(g, dtype="float64"), x.shape, kernel, stride, dilation))
    assert np.sum(cols * g) == pytest.approx(np.sum(x * back), rel=1e-12)
