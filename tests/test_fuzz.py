"""A small fuzz of the public surface (issue 18): constructors, losses, fit's arguments and
model files given odd values. Every outcome must be success or an error xpnn raised itself
(ValueError, TypeError or a file error, from a frame inside xpnn: an error that surfaces from
deep in NumPy or the standard library is a raw one), and a refused fit or load must leave the
model as it was. The budget is small (CI runs it); ``XPNN_FUZZ_EXAMPLES`` raises it."""

import io
import os
import pathlib
import re
import traceback
import zipfile

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

import xpnn  # noqa: E402

EXAMPLES = int(os.environ.get("XPNN_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
PACKAGE = pathlib.Path(xpnn.__file__).parent
SIGNATURE = re.compile(r"missing \d+ required|got an unexpected keyword|takes .* positional|got multiple values")
NAMED = (ValueError, TypeError, FileNotFoundError, IsADirectoryError, PermissionError, xpnn.BackendError)


def assert_named(call):
    """Run ``call``; an error must be one of NAMED and raised by xpnn's own code."""
    try:
        call()
    except NAMED as error:
        frames = traceback.extract_tb(error.__traceback__)
        if isinstance(error, TypeError) and SIGNATURE.search(str(error)):
            return error  # Python's own call check, which names the argument
        assert frames and pathlib.Path(frames[-1].filename).resolve().is_relative_to(PACKAGE.resolve()), (
            f"{type(error).__name__} raised outside xpnn: {error!r} at {frames[-1].filename}:{frames[-1].lineno}")
        assert str(error), "an error without a message"
        return error
    return None


ODD = st.one_of(
    st.none(), st.booleans(), st.integers(-10**13, 10**13), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4), st.lists(st.integers(-3, 3), max_size=3), st.tuples(st.integers(-2, 5)),
    st.sampled_from([np.float32(0.5), np.int64(3), np.float64("nan"), np.array([1.0]), {}, {"a": 1}, object()]),
)

CONSTRUCTORS = {
    "Dense": (xpnn.Dense, ("in_features", "out_features", "activation", "bias", "init", "dtype", "rng")),
    "Dropout": (xpnn.Dropout, ("rate", "seed")),
    "BatchNorm": (xpnn.BatchNorm, ("num_features", "momentum", "eps", "dtype")),
    "LayerNorm": (xpnn.LayerNorm, ("normalized_shape", "eps", "dtype")),
    "PReLU": (xpnn.PReLU, ("num_parameters", "init", "dtype")),
    "LeakyReLU": (xpnn.LeakyReLU, ("alpha",)),
    "GELU": (xpnn.GELU, ("approximate",)),
    "Huber": (xpnn.Huber, ("delta",)),
    "CrossEntropy": (xpnn.CrossEntropy, ("label_smoothing", "from_logits")),
    "BinaryCrossEntropy": (xpnn.BinaryCrossEntropy, ("from_logits",)),
    "SGD": (xpnn.SGD, ("lr", "momentum", "nesterov", "weight_decay", "clip_norm", "clip_value")),
    "Adam": (xpnn.Adam, ("lr", "beta_1", "beta_2", "eps", "weight_decay", "clip_norm")),
    "EarlyStopping": (xpnn.EarlyStopping, ("monitor", "patience", "min_delta", "mode", "baseline")),
    "StepDecay": (xpnn.schedules.StepDecay, ("initial_lr", "step_size", "gamma")),
}


@pytest.mark.parametrize("name", sorted(CONSTRUCTORS))
def test_constructors(name):
    cls, arguments = CONSTRUCTORS[name]

    @FUZZ
    @given(st.data())
    def run(data):
        chosen = data.draw(st.lists(st.sampled_from(arguments), unique=True, max_size=len(arguments)))
        kwargs = {key: data.draw(ODD, label=key) for key in chosen}
        assert_named(lambda: cls(**kwargs))

    run()


ARRAYS = st.builds(
    lambda shape, dtype, fill: np.full(shape, fill).astype(dtype) if dtype != "bool" else np.full(shape, fill != 0),
    st.one_of(st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple),
              st.tuples(st.integers(0, 3), st.integers(1, 3))),  # the (batch, classes) losses expect
    st.sampled_from(["float32", "float64", "int64", "bool"]),
    st.sampled_from([0.0, 0.5, 1.0, -2.0, 3.0, 1e39, np.nan, np.inf]),
)


@pytest.mark.parametrize("loss", [xpnn.MSE(), xpnn.MAE(), xpnn.Huber(), xpnn.BinaryCrossEntropy(),
                                  xpnn.BinaryCrossEntropy(from_logits=False), xpnn.CrossEntropy(),
                                  xpnn.CrossEntropy(from_logits=False)], ids=repr)
def test_losses(loss):
    @settings(FUZZ, max_examples=3 * EXAMPLES)
    @given(st.data())
    def run(data):
        pred = data.draw(ARRAYS, label="pred")
        like_pred = st.builds(lambda fill, dtype: np.full(pred.shape, fill).astype(dtype),
                              st.sampled_from([0, 1, 2, 0.5, -1.0, np.nan]), st.sampled_from(["float64", "int64"]))
        labels = st.builds(lambda fill: np.full(pred.shape[:1], fill, dtype=np.int64), st.integers(-1, 4))
        target = data.draw(st.one_of(like_pred, labels, ARRAYS), label="target")
        weight = data.draw(st.one_of(st.none(), st.builds(lambda fill: np.full(pred.shape[:1], fill),
                                                          st.sampled_from([0.0, 1.0, -1.0, np.nan])), ARRAYS))
        def forward_and_backward():
            _, backward = loss.forward(xpnn.asarray(pred), xpnn.asarray(target),
                                       None if weight is None else xpnn.asarray(weight))
            backward()

        with np.errstate(all="ignore"):
            assert_named(forward_and_backward)

    run()


FIT_ARGUMENTS = {
    "epochs": ODD, "batch_size": ODD, "validation_split": ODD, "shuffle": ODD, "metrics": ODD, "seed": ODD,
    "verbose": ODD, "callbacks": ODD, "class_weight": ODD, "sample_weight": st.one_of(ODD, ARRAYS),
    "validation_data": st.one_of(ODD, st.tuples(ARRAYS, ARRAYS)), "loss": st.one_of(ODD, st.sampled_from(
        ["mse", "cross_entropy", "bce", "nope"])), "optimizer": st.one_of(ODD, st.sampled_from(["adam", "sgd", "x"])),
}


def test_fit_arguments():
    X = np.random.default_rng(0).normal(size=(10, 3))
    y = np.arange(10) % 3

    @FUZZ
    @given(st.data())
    def run(data):
        chosen = data.draw(st.lists(st.sampled_from(sorted(FIT_ARGUMENTS)), unique=True, min_size=1, max_size=3))
        kwargs = {"loss": "cross_entropy", "optimizer": "sgd", "epochs": 1, "verbose": 0}
        kwargs.update({key: data.draw(FIT_ARGUMENTS[key], label=key) for key in chosen})
        model = xpnn.Model(xpnn.Dense(3, 3))
        before = model.get_weights()
        with np.errstate(all="ignore"):
            error = assert_named(lambda: model.fit(X, y, **kwargs))
        if error is not None:
            for old, new in zip(before, model.get_weights()):
                np.testing.assert_array_equal(old, new)

    run()


def _mutations(original: bytes):
    """Ways to damage a model file: cut it, flip bytes, or rewrite its JSON."""
    return st.one_of(
        st.integers(0, len(original) - 1).map(lambda n: original[:n]),
        st.tuples(st.integers(0, len(original) - 1), st.integers(0, 255)).map(
            lambda change: original[:change[0]] + bytes([change[1]]) + original[change[0] + 1:]),
    )


def test_model_files(tmp_path):
    path = tmp_path / "m.xpnn"
    xpnn.Model(xpnn.Dense(3, 4, activation="relu"), xpnn.BatchNorm(4), xpnn.Dense(4, 2)).save(path)
    original = path.read_bytes()
    target = xpnn.Model(xpnn.Dense(3, 4, activation="relu"), xpnn.BatchNorm(4), xpnn.Dense(4, 2))
    before = target.get_weights()

    @FUZZ
    @given(_mutations(original))
    def run(damaged):
        path.write_bytes(damaged)
        assert_named(lambda: xpnn.load(path))
        error = assert_named(lambda: target.load_weights(path))
        if error is not None:
            for old, new in zip(before, target.get_weights()):
                np.testing.assert_array_equal(old, new)
        else:
            target.set_weights(before)

    run()


def test_model_file_json(tmp_path):
    """Valid archives whose JSON says odd things."""
    from xpnn.backend import read_arrays, write_arrays_atomically

    path = tmp_path / "m.xpnn"
    xpnn.Model(xpnn.Dense(3, 2)).save(path)
    arrays, meta = read_arrays(path)
    leaves = st.one_of(ODD.filter(lambda v: not isinstance(v, (np.ndarray, np.generic, object().__class__))),
                       st.sampled_from(["Dense", "Model", "a0", "xpnn.model"]))

    @FUZZ
    @given(st.sampled_from(["architecture", "state", "format", "version", "class", "config", "names"]), leaves)
    def run(key, value):
        changed = _replace(meta, key, value)
        write_arrays_atomically(path, arrays, changed)
        assert_named(lambda: xpnn.load(path))

    run()


def _replace(tree, key, value):
    if isinstance(tree, dict):
        return {k: (value if k == key else _replace(v, key, value)) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_replace(v, key, value) for v in tree]
    return tree


def test_the_fuzz_detects_a_raw_error():
    """The harness itself: an error from outside xpnn is caught as raw."""
    with pytest.raises(AssertionError, match="raised outside xpnn"):
        assert_named(lambda: np.zeros(3).reshape(2, 2))
    with pytest.raises(ZeroDivisionError):
        assert_named(lambda: 1 / 0)
    assert io and zipfile  # used by the mutations above
