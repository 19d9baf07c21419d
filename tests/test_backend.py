import os
import subprocess
import sys

import numpy as np
import pytest

import xpnn
from xpnn import backend


def test_use_backend_as_context_manager_restores_even_on_error():
    before = backend.name()
    with pytest.raises(RuntimeError):
        with xpnn.use_backend("array_api_strict"):
            assert backend.name() == "array_api_strict"
            raise RuntimeError("boom")
    assert backend.name() == before


def test_use_backend_as_plain_call_switches_the_process_default():
    before = backend.name()
    try:
        xpnn.use_backend("array_api_strict")
        assert backend.name() == "array_api_strict"
        assert type(xpnn.asarray([1.0])).__module__.startswith("array_api_strict")
    finally:
        xpnn.use_backend(before)


def test_unknown_backend_lists_valid_names_and_changes_nothing():
    before = backend.name()
    with pytest.raises(xpnn.BackendError, match=r"unknown backend 'jax'; valid names are: numpy, cupy, array_api_strict, auto"):
        xpnn.use_backend("jax")
    assert backend.name() == before


def test_backend_name_must_be_a_string():
    with pytest.raises(TypeError, match="backend name must be a string, got int"):
        xpnn.use_backend(3)


@pytest.mark.skipif(backend.available_backends()["cupy"][0], reason="CuPy is usable here")
def test_cupy_without_gpu_or_cupy_says_how_to_install():
    with pytest.raises(xpnn.BackendError, match=r"backend 'cupy'.*(pip install \"xpnn\[cuda12\]\"|no CUDA device)"):
        xpnn.use_backend("cupy")


@pytest.mark.skipif(backend.available_backends()["cupy"][0], reason="CuPy is usable here")
def test_auto_falls_back_to_numpy_and_says_why():
    with xpnn.use_backend("auto"):
        assert backend.name() == "numpy"
        assert "auto: fell back to numpy because backend 'cupy'" in backend.describe()


def test_describe_lists_every_backend():
    text = backend.describe()
    for name in ("numpy", "array_api_strict", "cupy"):
        assert f"  {name}" in text


def test_environment_variable_chooses_the_default_and_a_bad_value_fails_on_first_use():
    code = "import xpnn; print(xpnn.backend.name())"
    env = {**os.environ, "XPNN_BACKEND": "array_api_strict"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "array_api_strict", out.stderr
    env["XPNN_BACKEND"] = "tensorflow"
    out = subprocess.run([sys.executable, "-c", "import xpnn; xpnn.asarray([1.0])"], env=env,
                         capture_output=True, text=True)
    assert out.returncode != 0
    assert "XPNN_BACKEND='tensorflow': unknown backend 'tensorflow'" in out.stderr


def test_asarray_dtype_rules(xp):
    assert xpnn.asarray([1.0, 2.0]).dtype == xp.float32  # Python floats: the default float32
    assert xpnn.asarray(np.ones(2)).dtype == xp.float64  # arrays keep their dtype
    assert xpnn.asarray([1, 2]).dtype == xp.int64
    assert xpnn.asarray(np.ones(2), dtype="float32").dtype == xp.float32
    assert xpnn.asarray(np.ones(2), dtype=np.float32).dtype == xp.float32
    x = xpnn.asarray(np.ones(3))
    assert xpnn.asarray(x) is x  # already on the backend: no copy


def test_asarray_moves_between_backends(other_backend):
    host = np.arange(6.0).reshape(2, 3)
    with xpnn.use_backend(other_backend):
        there = xpnn.asarray(host)
    with xpnn.use_backend("numpy"):
        back = xpnn.asarray(there)
    assert isinstance(back, np.ndarray) and np.array_equal(back, host)
    assert np.array_equal(xpnn.to_numpy(there), host)


def test_asarray_rejects_text():
    with pytest.raises(TypeError, match="cannot turn list of <U1 into a numeric array"):
        xpnn.asarray(["a", "b"])


def test_unknown_dtype():
    with pytest.raises(TypeError, match="dtype 'float8' is not a dtype the array API knows"):
        xpnn.asarray([1.0], dtype="float8")


def test_rng_seeds():
    assert np.array_equal(backend.rng(3).normal(size=4), backend.rng(3).normal(size=4))
    generator = np.random.default_rng(0)
    assert backend.rng(generator) is generator
    with pytest.raises(TypeError, match="seed must be a non-negative int or a numpy Generator, got -1"):
        backend.rng(-1)
    with backend.seeded(5):
        first = xpnn.Dense(3, 2).weight.value
    with backend.seeded(5):
        assert np.array_equal(first, xpnn.Dense(3, 2).weight.value)


def test_only_the_backend_module_names_numpy_or_cupy():
    """The house rule, checked: math modules use the namespace of their arrays."""
    import pathlib
    import re

    package = pathlib.Path(xpnn.__file__).parent
    pattern = re.compile(r"^\s*(import|from)\s+(numpy|cupy|cupyx)\b", re.MULTILINE)
    modules = list(package.rglob("*.py"))
    offenders = [str(path.relative_to(package)) for path in modules
                 if path.parent != package / "backend" and pattern.search(path.read_text())]
    assert offenders == []
    assert any(pattern.search(path.read_text()) for path in modules if path.parent == package / "backend")


def test_no_module_imports_a_private_name_of_another():
    """What several modules need is public inside the package: no ``from .x import _y``."""
    import pathlib
    import re

    root = pathlib.Path(xpnn.__file__).parent.parent
    offenders = []
    for folder in ("xpnn", "tests", "benchmarks", "examples"):
        for path in (root / folder).rglob("*.py"):
            for match in re.finditer(r"^\s*from\s+([\w.]+)\s+import\s+(\([^)]*\)|[^\n]*)", path.read_text(), re.MULTILINE):
                names = [part.strip().split(" as ")[0] for part in match.group(2).strip("()").split(",")]
                offenders += [f"{path.relative_to(root)}: {name}" for name in names
                              if name.startswith("_") and not name.startswith("__") and match.group(1) != "__future__"]
    assert offenders == []


def test_device_random_takes_any_integer_seed_and_refuses_negative_ones():
    import numpy as np

    a = backend.DeviceRandom(5).uniform((4,), like=xpnn.asarray([0.0]))
    b = backend.DeviceRandom(np.int64(5)).uniform((4,), like=xpnn.asarray([0.0]))
    assert np.array_equal(xpnn.to_numpy(a), xpnn.to_numpy(b))
    with pytest.raises(ValueError, match=r"DeviceRandom: seed must be None, a Generator or an int >= 0, got -1"):
        backend.DeviceRandom(-1)


# ---------------------------------------------------------------- the NumPy namespace seam

def test_numpy_arrays_compute_with_xpnns_numpy_namespace():
    import array_api_compat.numpy as compat

    fast = backend.numpy_namespace()
    assert backend.namespace_of(x=np.ones(2)) is fast and backend.host_namespace() is fast
    with xpnn.use_backend("numpy") as xp:
        assert xp is fast
    assert backend.backend_name_of(fast) == "numpy"
    # everything else is array_api_compat.numpy's own
    for name in ("exp", "matmul", "concat", "isdtype", "finfo", "float32",
                 "__array_api_version__", "__array_namespace_info__"):
        assert getattr(fast, name) is getattr(compat, name), name


@pytest.mark.parametrize("reduction", ["sum", "max", "min"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "int32", "uint8", "bool"])
def test_numpy_namespace_reductions_give_array_api_compats_results(reduction, dtype):
    import array_api_compat.numpy as compat

    fast = getattr(backend.numpy_namespace(), reduction)
    reference = getattr(compat, reduction)
    rng = np.random.default_rng(0)
    for shape in [(), (5,), (3, 4), (2, 3, 4)]:
        x = (rng.standard_normal(shape) * 50).astype(dtype)
        axes = [None] + list(range(-len(shape), len(shape))) + ([(0, -1)] if len(shape) > 1 else [])
        for axis in axes:
            for keepdims in (False, True):
                got = fast(x, axis=axis, keepdims=keepdims)
                expected = reference(x, axis=axis, keepdims=keepdims)
                assert type(got) is type(expected) and got.dtype == expected.dtype
                np.testing.assert_array_equal(got, expected)
                assert np.shape(got) == np.shape(expected), (shape, axis, keepdims)
    x = (np.arange(6) % 3).astype(dtype).reshape(2, 3)
    if reduction == "sum":
        for out_dtype in ("float64", "int64"):
            got = fast(x, axis=0, dtype=np.dtype(out_dtype))
            np.testing.assert_array_equal(got, reference(x, axis=0, dtype=np.dtype(out_dtype)))
            assert got.dtype == out_dtype
    else:  # an empty reduction has no identity: the same error as NumPy's
        with pytest.raises(ValueError, match="zero-size array"):
            fast(np.ones((0, 3), dtype=dtype), axis=0)


def test_numpy_namespace_astype_reshape_and_arange_give_array_api_compats_results():
    import array_api_compat.numpy as compat

    fast = backend.numpy_namespace()
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 7.5
    for dtype in (np.float32, np.float64, np.int8, np.int64, np.bool_):
        for copy in (True, False):
            got, expected = fast.astype(x, dtype, copy=copy), compat.astype(x, dtype, copy=copy)
            assert got.dtype == expected.dtype
            np.testing.assert_array_equal(got, expected)
            assert (got is x) == (expected is x)  # copy=False with the same dtype: no copy
    assert fast.astype(x, np.float64, device="cpu").dtype == np.float64
    with pytest.raises(ValueError, match="device"):
        fast.astype(x, np.float64, device="cuda")
    assert fast.astype(np.float32(2.5), np.int32) == compat.astype(np.float32(2.5), np.int32)
    for shape in [(24,), (-1,), (4, 6), (2, -1, 3)]:
        for copy in (None, True):
            got, expected = fast.reshape(x, shape, copy=copy), compat.reshape(x, shape, copy=copy)
            assert got.shape == expected.shape
            np.testing.assert_array_equal(got, expected)
            assert np.shares_memory(got, x) == np.shares_memory(expected, x)
    with pytest.raises(ValueError):
        fast.reshape(x, (5, 5))
    with pytest.raises((ValueError, AttributeError)) as compats_error:  # copy=False where a view is impossible
        compat.reshape(x.T, (24,), copy=False)
    with pytest.raises(compats_error.type):  # ValueError, or AttributeError from compat < 1.13
        fast.reshape(x.T, (24,), copy=False)
    for args, kwargs in [((5,), {}), ((2, 9), {}), ((2, 9, 3), {}), ((0.5, 3.0, 0.5), {}),
                         ((6,), {"dtype": np.int8}), ((1, 4), {"dtype": np.float32}),
                         ((3,), {"device": "cpu"})]:
        got, expected = fast.arange(*args, **kwargs), compat.arange(*args, **kwargs)
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError, match="device"):
        fast.arange(3, device="cuda")


def _fake_cupy(kernel_error=None):
    """A stand-in for CuPy on a machine with a driver and a device: its kernels compile, or
    fail with ``kernel_error``."""
    import types

    class Array(list):
        def sum(self):
            return sum(self)

    def elementwise_kernel(*args):
        if kernel_error is not None:
            raise kernel_error
        return lambda x: Array(v + 1 for v in x)

    runtime = types.SimpleNamespace(getDeviceCount=lambda: 1,
                                    getDeviceProperties=lambda device: {"name": b"Fake GPU"})
    cuda = types.SimpleNamespace(runtime=runtime, Device=lambda: types.SimpleNamespace(id=0))
    return types.SimpleNamespace(__version__="14.0.0", cuda=cuda, ElementwiseKernel=elementwise_kernel,
                                 float32="float32", arange=lambda n, dtype=None: list(range(n)))


def test_cupy_that_cannot_compile_a_kernel_is_refused_with_the_reason(monkeypatch):
    fake = _fake_cupy(kernel_error=OSError("libnvrtc.so.12: cannot open shared object file"))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    with pytest.raises(xpnn.BackendError, match=r"cannot compile and run a kernel \(OSError: libnvrtc.so.12.*NVRTC"):
        xpnn.use_backend("cupy")
    with xpnn.use_backend("auto"):  # auto falls back to NumPy and says why
        assert backend.name() == "numpy" and "cannot compile and run a kernel" in backend.describe()


def test_cupy_that_compiles_is_used(monkeypatch):
    """The probe passes a CuPy whose kernels work (array_api_compat.cupy stands in as numpy's)."""
    import types

    import array_api_compat.numpy as compat

    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy())
    monkeypatch.setitem(sys.modules, "array_api_compat.cupy", types.SimpleNamespace(**vars(compat)))
    with xpnn.use_backend("cupy"):
        assert backend.name() == "cupy" and "Fake GPU" in backend.describe()
