"""A CNN through the rest of the library: fit/predict/evaluate on (batch, channels, height,
width) data, save/load, checkpoints that resume bit for bit, the shape errors fit reports
before any work, and the digits example."""

import importlib.util
import pathlib

import numpy as np
import pytest

import xpnn
from xpnn import backend
from xpnn.testing import assert_close

ROOT = pathlib.Path(__file__).parent.parent


def bars(n=48, seed=0):
    """(n, 1, 6, 6) images of a horizontal bar (class 0), a vertical bar (1) or a dot (2)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(scale=0.3, size=(n, 1, 6, 6))
    y = np.arange(n) % 3
    for i, label in enumerate(y):
        row, col = rng.integers(1, 5, size=2)
        if label == 0:
            X[i, 0, row, 1:5] += 2.0
        elif label == 1:
            X[i, 0, 1:5, col] += 2.0
        else:
            X[i, 0, row, col] += 3.0
    return X, y


def small_cnn(seed=0):
    with backend.seeded(seed):
        return xpnn.Model(
            xpnn.Conv2D(1, 4, 3, padding=1, activation="relu"), xpnn.BatchNorm2D(4),
            xpnn.MaxPool2D(2), xpnn.Conv2D(4, 6, 2, activation="relu"), xpnn.Dropout(0.2, seed=5),
            xpnn.AvgPool2D(2), xpnn.Flatten(), xpnn.Dense(6, 3),
        )


def fit_arguments(**overrides):
    arguments = dict(loss="cross_entropy", epochs=4, batch_size=12, validation_split=0.25, seed=3, verbose=0)
    arguments.update(overrides)
    return arguments


def host_state(model):
    return {name: xpnn.to_numpy(held.value).copy() for name, held in model.named_state()}


def test_a_cnn_trains_through_fit_and_predicts(xp):
    X, y = bars()
    model = small_cnn()
    history = model.fit(X, y, optimizer=xpnn.Adam(lr=0.05), **fit_arguments(epochs=8))
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.evaluate(X, y)["accuracy"] > 0.8
    assert tuple(model.predict(X, batch_size=10).shape) == (48, 3)


def test_save_and_load_give_the_same_predictions(xp, tmp_path):
    X, y = bars()
    model = small_cnn()
    model.fit(X, y, optimizer="adam", **fit_arguments(epochs=1))
    model.save(tmp_path / "cnn.xpnn")
    loaded = xpnn.load(tmp_path / "cnn.xpnn")
    assert repr(loaded) == repr(model)
    assert_close(loaded.predict(X), model.predict(X), rtol=0, atol=0)


def test_a_checkpoint_resumes_bit_for_bit(tmp_path):
    X, y = bars()
    straight = small_cnn()
    straight.fit(X, y, optimizer="adam", **fit_arguments())
    path = tmp_path / "run.ckpt"

    class Interrupt(xpnn.Callback):
        def on_epoch_end(self, epoch, logs):
            if epoch == 1:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        small_cnn().fit(X, y, optimizer="adam", callbacks=[xpnn.ModelCheckpoint(path), Interrupt()],
                        **fit_arguments())
    resumed = small_cnn(seed=9)
    history = resumed.fit(X, y, optimizer="adam", resume_from=path, **fit_arguments())
    assert history.epoch == [0, 1, 2, 3]
    expected = host_state(straight)
    for name, value in host_state(resumed).items():
        assert np.array_equal(value, expected[name]), f"{name} differs after resuming"


def test_weights_saved_on_numpy_load_on_another_backend(other_backend, tmp_path):
    X, _ = bars(n=6)
    model = small_cnn()
    model.save(tmp_path / "m")
    expected = xpnn.to_numpy(model.predict(X))
    with xpnn.use_backend(other_backend):
        loaded = xpnn.load(tmp_path / "m")
        assert_close(loaded.predict(X), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape, message", [
    ((12, 6, 6), r"fit: X of shape \(12, 6, 6\) does not fit the model: Conv2D: x has shape \(1, 6, 6\), "
                 r"expected \(batch, 1, height, width\) for a layer with in_channels=1; "
                 r"add the channel axis with x.reshape\(-1, 1, 6, 6\)"),
    ((12, 3, 6, 6), r"fit: X of shape \(12, 3, 6, 6\) does not fit the model: Conv2D: x has shape \(1, 3, 6, 6\), "
                    r"expected \(batch, 1, height, width\) for a layer with in_channels=1"),
    ((12, 36), r"fit: X of shape \(12, 36\) does not fit the model: Conv2D: x has shape \(1, 36\), "
               r"expected \(batch, 1, height, width\)"),
    # the first convolution pads 2x2 to 4x4 and fits; after pooling, 1x1 images meet the 2x2 kernel
    ((12, 1, 2, 2), r"fit: X of shape \(12, 1, 2, 2\) does not fit the model: Conv2D: x has shape \(1, 4, 1, 1\): "
                    r"its images, 1x1 after padding, are smaller than the 2x2 window of the kernel"),
])
def test_fit_names_a_badly_shaped_x_before_any_work(xp, shape, message):
    model = small_cnn()
    before = host_state(model)
    with pytest.raises(ValueError, match=message):
        model.fit(np.zeros(shape), np.arange(12) % 3, optimizer="adam", **fit_arguments())
    assert all(np.array_equal(v, before[k]) for k, v in host_state(model).items())


def test_predict_names_a_badly_shaped_x(xp):
    with pytest.raises(ValueError, match=r"predict: X of shape \(5, 6, 6\) does not fit the model: "
                                         r"Conv2D: x has shape \(1, 6, 6\)"):
        small_cnn().predict(np.zeros((5, 6, 6)))


def test_the_digits_example_runs_and_prints_both_accuracies(capsys):
    """examples/digits_cnn.py with 2 epochs (its full run, 30 epochs at most: CNN 0.9916 against
    the MLP's 0.9721 on the README's split)."""
    spec = importlib.util.spec_from_file_location("digits_cnn", ROOT / "examples" / "digits_cnn.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    result = example.main(["--epochs", "2"])
    printed = capsys.readouterr().out
    assert "MLP 64-128-64-10 test accuracy" in printed and "CNN conv32" in printed
    assert result["cnn"] > 0.8 and result["mlp"] > 0.8
