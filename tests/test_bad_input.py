"""Issue 18, items 10 to 12: wrong types and values get a named, typed error when made or
called, never a raw Python error, a silent cast, or a broadcast."""

import numpy as np
import pytest

import xpnn
from xpnn import init


# ---------------------------------------------------------------- 10: numbers, flags, dtypes

@pytest.mark.parametrize("make, error, message", [
    (lambda: xpnn.LeakyReLU(alpha="0.5"), TypeError, "leaky_relu: alpha must be a number, got '0.5'"),
    (lambda: xpnn.ELU(alpha=True), TypeError, "elu: alpha must be a number, got True"),
    (lambda: xpnn.BinaryCrossEntropy(from_logits="no"), TypeError, "from_logits must be True or False, got 'no'"),
    (lambda: xpnn.CrossEntropy(from_logits=1), TypeError, "from_logits must be True or False"),
    (lambda: xpnn.ModelCheckpoint(None), TypeError, "ModelCheckpoint: path must be a str or os.PathLike, got NoneType"),
    (lambda: xpnn.Dense(3, 2, dtype="int32"), TypeError, "Dense: dtype must be 'float32' or 'float64', got 'int32'"),
    (lambda: xpnn.Dense(3, 2, dtype="bool"), TypeError, "Dense: dtype must be 'float32' or 'float64'"),
    (lambda: xpnn.PReLU(dtype="int64"), TypeError, "PReLU: dtype must be 'float32' or 'float64'"),
    (lambda: xpnn.Conv2D(1, 2, 3, dtype="int32"), TypeError, "Conv2D: dtype must be 'float32' or 'float64'"),
    (lambda: xpnn.Conv2D(1, 2, 3, bias="no"), TypeError, "Conv2D: bias must be True or False"),
    (lambda: xpnn.Dense(1, 2, bias=0), TypeError, "Dense: bias must be True or False"),
    (lambda: xpnn.BatchNorm(3, dtype="int64"), TypeError, "BatchNorm: dtype must be 'float32' or 'float64'"),
    (lambda: init.constant(float("nan")), ValueError, "init.constant: value must be finite, got nan"),
    (lambda: init.constant("1"), TypeError, "init.constant: value must be a number"),
    (lambda: init.zeros((0, 3)), ValueError, r"init.constant: shape must be a tuple of ints >= 1, got \(0, 3\)"),
    (lambda: init.he_normal((0, 3)), ValueError, r"shape must be a tuple of ints >= 1, got \(0, 3\)"),
    (lambda: init.normal((2, 2), std=0), ValueError, "init.normal: std must be > 0"),
    (lambda: init.uniform((2, 2), low=1, high=1), ValueError, "init.uniform: low must be below high"),
    (lambda: init.normal((2, 2), dtype="int32"), TypeError, "init.normal: dtype must be 'float32' or 'float64'"),
    (lambda: xpnn.EarlyStopping(monitor=None), TypeError, "EarlyStopping: monitor must be a non-empty str"),
])
def test_constructors_refuse_what_they_cannot_use(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_numpy_scalars_are_stored_as_plain_floats(xp, tmp_path):
    """A NumPy scalar hyper-parameter was kept as one: saved, then failing on array_api_strict."""
    layer = xpnn.LeakyReLU(alpha=np.float32(0.25))
    assert type(layer.hyper["alpha"]) is float and layer.hyper["alpha"] == 0.25
    model = xpnn.Model(xpnn.Dense(2, 2, activation=xpnn.ELU(alpha=np.float64(0.5))), layer)
    model.save(tmp_path / "m.xpnn")
    loaded = xpnn.load(tmp_path / "m.xpnn")
    assert type(loaded.layers[1].hyper["alpha"]) is float
    x = xpnn.asarray(np.array([[-1.0, 2.0]]), dtype="float32")
    np.testing.assert_array_equal(xpnn.to_numpy(loaded(x)), xpnn.to_numpy(model(x)))


# ---------------------------------------------------------------- 11: every backward checks dout

def _forward(layer, shape=(4, 3)):
    x = xpnn.asarray(np.random.default_rng(0).normal(size=shape), dtype="float32")
    return layer.forward(x, training=True)


BACKWARD_LAYERS = {
    "ReLU": lambda: xpnn.ReLU(), "Sigmoid": lambda: xpnn.Sigmoid(), "Softmax": lambda: xpnn.Softmax(),
    "GELU": lambda: xpnn.GELU(), "PReLU": lambda: xpnn.PReLU(), "Dense": lambda: xpnn.Dense(3, 3),
    "BatchNorm": lambda: xpnn.BatchNorm(3), "LayerNorm": lambda: xpnn.LayerNorm(3),
    "Dropout": lambda: xpnn.Dropout(0.5), "Residual": lambda: xpnn.Residual(xpnn.Dense(3, 3)),
    "Sequential": lambda: xpnn.Sequential(xpnn.Dense(3, 3), xpnn.Tanh()),
}


@pytest.mark.parametrize("name", sorted(BACKWARD_LAYERS))
def test_a_backward_refuses_a_gradient_of_another_shape(xp, name):
    """The issue's case: a (1, 3) gradient for a (4, 3) output was broadcast without a word."""
    _, backward = _forward(BACKWARD_LAYERS[name]())
    with pytest.raises(ValueError, match=r"dout has shape \(1, 3\), expected (the output shape )?\(4, 3\)"):
        backward(xpnn.asarray(np.ones((1, 3)), dtype="float32"))


IMAGE_LAYERS = {
    "Conv2D": lambda: xpnn.Conv2D(1, 2, 3), "MaxPool2D": lambda: xpnn.MaxPool2D(2),
    "AvgPool2D": lambda: xpnn.AvgPool2D(2), "GlobalAvgPool2D": lambda: xpnn.GlobalAvgPool2D(),
    "Flatten": lambda: xpnn.Flatten(), "Reshape": lambda: xpnn.Reshape((36,)), "BatchNorm2D": lambda: xpnn.BatchNorm2D(1),
}


@pytest.mark.parametrize("name", sorted(IMAGE_LAYERS))
def test_image_layers_check_the_gradient_they_are_given(xp, name):
    out, backward = _forward(IMAGE_LAYERS[name](), shape=(2, 1, 6, 6))
    with pytest.raises(ValueError, match=r"dout has shape \(1,"):
        backward(xpnn.asarray(np.ones((1, *out.shape[1:])), dtype="float32"))
    with pytest.raises(TypeError, match="dout has dtype float64, expected the output's float32"):
        backward(xpnn.asarray(np.ones(tuple(out.shape)), dtype="float64"))


@pytest.mark.parametrize("name", ["ReLU", "Sigmoid", "Softmax", "GELU", "PReLU", "Dense"])
def test_a_backward_refuses_a_gradient_of_another_dtype(xp, name):
    _, backward = _forward(BACKWARD_LAYERS[name]())
    with pytest.raises(TypeError, match="dout has dtype float64, expected the output's float32"):
        backward(xpnn.asarray(np.ones((4, 3)), dtype="float64"))


# ---------------------------------------------------------------- 12: named errors, not raw ones

def _fit(**arguments):
    X, y = np.random.default_rng(0).normal(size=(12, 3)), np.arange(12) % 3
    settings = dict(loss="cross_entropy", optimizer="sgd", verbose=0)
    settings.update(arguments)
    xpnn.Model(xpnn.Dense(3, 3)).fit(X, y, **settings)


@pytest.mark.parametrize("arguments, error, message", [
    ({"callbacks": xpnn.EarlyStopping(monitor="loss")}, TypeError,
     r"fit: callbacks must be a list of xpnn Callbacks, got EarlyStopping; wrap it in a list"),
    ({"callbacks": "early"}, TypeError, "fit: callbacks must be a list of xpnn Callbacks, got str"),
    ({"metrics": 3}, TypeError, "fit: metrics must be a name, a Metric, or a list of them, got 3"),
])
def test_fit_arguments_of_the_wrong_type(arguments, error, message):
    with pytest.raises(error, match=message):
        _fit(**arguments)


@pytest.mark.parametrize("loss", [xpnn.MSE(), xpnn.MAE(), xpnn.Huber(), xpnn.BinaryCrossEntropy(), xpnn.CrossEntropy()])
def test_a_loss_of_an_empty_batch_is_a_value_error(xp, loss):
    """It was a ZeroDivisionError."""
    pred = xpnn.asarray(np.zeros((0, 2)), dtype="float32")
    target = xpnn.asarray(np.zeros(0, dtype=np.int64) if isinstance(loss, xpnn.CrossEntropy) else np.zeros((0, 2)))
    with pytest.raises(ValueError, match=rf"{type(loss).__name__}: pred has shape \(0, 2\); a loss needs a batch"):
        loss(pred, target)


# ---------------------------------------------------------------- 13: monitors checked before the first step

@pytest.mark.parametrize("make", [
    lambda: xpnn.EarlyStopping("recall"),
    lambda: xpnn.ModelCheckpoint("never-written.ckpt", monitor="acc", save_best_only=True),
    lambda: xpnn.LearningRateScheduler(xpnn.schedules.ReduceOnPlateau(0.1, monitor="accuracy")),
], ids=["EarlyStopping", "ModelCheckpoint", "LearningRateScheduler"])
def test_a_monitor_no_epoch_logs_is_refused_before_training(tmp_path, monkeypatch, make):
    monkeypatch.chdir(tmp_path)
    X, y = np.random.default_rng(0).normal(size=(12, 3)), np.random.default_rng(1).normal(size=(12, 1))
    model = xpnn.Model(xpnn.Dense(3, 1))
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"monitor='(recall|acc|accuracy)' is not a value this fit logs; it logs "
                                         r"'loss', 'val_loss'"):
        model.fit(X, y, loss="mse", optimizer="sgd", verbose=0, validation_split=0.25, callbacks=[make()])
    np.testing.assert_array_equal(model.get_weights()[0], before[0])
    assert not list(tmp_path.iterdir())


def test_a_users_callback_may_add_the_monitored_value():
    class AddsScore(xpnn.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["score"] = -float(epoch)

    X, y = np.random.default_rng(0).normal(size=(12, 3)), np.random.default_rng(1).normal(size=(12, 1))
    history = xpnn.Model(xpnn.Dense(3, 1)).fit(X, y, loss="mse", optimizer="sgd", verbose=0, epochs=4,
                                              callbacks=[AddsScore(), xpnn.EarlyStopping("score", mode="max")])
    assert history.stop_reason.startswith("EarlyStopping: score did not improve")


# ---------------------------------------------------------------- 4: sizes checked before any allocation

@pytest.mark.parametrize("make, shape", [
    (lambda: xpnn.Dense(10**12, 2), r"\(1000000000000, 2\)"),  # the cases
    (lambda: xpnn.Dense(in_features=10**12, out_features=3), r"\(1000000000000, 3\)"),
    (lambda: xpnn.Conv2D(10**5, 10**5, 5), r"\(100000, 100000, 5, 5\)"),
])
def test_a_parameter_too_large_for_the_device_is_refused_before_it_is_drawn(make, shape):
    with pytest.raises(ValueError, match=rf"a weight of shape {shape} holds .* it needs about .*, more than the"):
        make()


def test_the_memory_check_uses_what_the_device_has(monkeypatch):
    from xpnn.utils import validation

    monkeypatch.setattr(validation, "available_memory", lambda: (10**9, "a test's 1 GB"))
    xpnn.Dense(5000, 5000)  # 100 MB, 400 MB with gradient and moments: fits
    with pytest.raises(ValueError, match=r"Dense: a weight of shape \(10000, 10000\) holds 100,000,000 float32 values "
                                         r"\(381.5 MiB\); .* about 1.5 GiB, more than the 953.7 MiB of a test's 1 GB"):
        xpnn.Dense(10000, 10000)
    monkeypatch.setattr(validation, "available_memory", lambda: (None, "unknown"))
    xpnn.Dense(10000, 100)  # unknown free memory: no refusal


def test_a_model_file_declaring_a_huge_layer_is_refused_by_name(tmp_path):
    from xpnn.training.checkpoint import MODEL_FORMAT, read_file, write_file

    path = tmp_path / "m.xpnn"
    xpnn.Model(xpnn.Dense(3, 2)).save(path)
    content = read_file(path, (MODEL_FORMAT,))
    content["architecture"]["config"]["layers"][0]["config"]["in_features"] = 10**12
    write_file(path, MODEL_FORMAT, content)
    with pytest.raises(ValueError, match=r"m.xpnn: cannot rebuild the model from its architecture: Dense: a weight of "
                                         r"shape \(1000000000000, 2\)"):
        xpnn.load(path)


@pytest.mark.parametrize("make, message", [
    (lambda: xpnn.EarlyStopping(restore_best_weights="yes"), "EarlyStopping: restore_best_weights must be True or False"),
    (lambda: xpnn.ModelCheckpoint("c.ckpt", save_best_only=1), "ModelCheckpoint: save_best_only must be True or False"),
    (lambda: xpnn.ModelCheckpoint("c.ckpt", save_weights_only="no"), "save_weights_only must be True or False"),
    (lambda: xpnn.LearningRateScheduler(lambda epoch, lr: lr, verbose=2), "LearningRateScheduler: verbose must be"),
    (lambda: xpnn.callbacks.CSVLogger("log.csv", append="no"), "CSVLogger: append must be True or False"),
    (lambda: xpnn.MSE(validate="no"), "MSE: validate must be True or False"),
    (lambda: xpnn.Parameter(np.zeros(2), trainable=0), "Parameter: trainable must be True or False"),
])
def test_flags_must_be_bools(tmp_path, monkeypatch, make, message):
    """Issue 18, item 10: flags were taken by truthiness ('no' meant True)."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TypeError, match=message):
        make()


def test_fit_shuffle_must_be_a_bool():
    with pytest.raises(TypeError, match="fit: shuffle must be True or False, got 'no'"):
        _fit(shuffle="no")


@pytest.mark.parametrize("template, message", [
    ("run-{nope}.ckpt", r"cannot fill in path 'run-\{nope\}.ckpt': KeyError\('nope'\); it may use \{epoch\} and \{loss\}"),
    ("run-{epoch:q}.ckpt", r"Unknown format code 'q'"),
])
def test_a_checkpoint_template_is_checked_before_training(tmp_path, monkeypatch, template, message):
    """Issue 18, item 13: a bad {key} failed only after an epoch had changed the weights."""
    monkeypatch.chdir(tmp_path)
    X, y = np.random.default_rng(0).normal(size=(12, 3)), np.random.default_rng(1).normal(size=(12, 1))
    model = xpnn.Model(xpnn.Dense(3, 1))
    before = model.get_weights()
    with pytest.raises(ValueError, match=message):
        model.fit(X, y, loss="mse", optimizer="sgd", verbose=0, callbacks=[xpnn.ModelCheckpoint(template)])
    np.testing.assert_array_equal(model.get_weights()[0], before[0])
    model.fit(X, y, loss="mse", optimizer="sgd", verbose=0, callbacks=[xpnn.ModelCheckpoint("run-{epoch}-{loss:.2f}.ckpt")])
    assert [p.name for p in tmp_path.iterdir()] == [f"run-1-{model.history['loss'][0]:.2f}.ckpt"]


def test_a_schedule_function_may_return_a_numpy_float():
    X, y = np.random.default_rng(0).normal(size=(12, 3)), np.random.default_rng(1).normal(size=(12, 1))
    optimizer = xpnn.SGD(lr=0.1)
    xpnn.Model(xpnn.Dense(3, 1)).fit(X, y, loss="mse", optimizer=optimizer, verbose=0, epochs=2,
                                     callbacks=[xpnn.LearningRateScheduler(lambda epoch, lr: np.float32(0.05))])
    assert optimizer.lr == pytest.approx(0.05) and type(optimizer.lr) is float
