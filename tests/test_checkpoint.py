"""Saving, loading and resuming: exact, portable across backends, atomic, and loud about bad files."""

import io
import os
import zipfile

import numpy as np
import pytest

import xpnn
from xpnn import backend, schedules
from xpnn.testing import assert_close


def blobs(n=60, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    centres = np.array([[0.0, 3.0], [3.0, -1.0], [-3.0, -1.0]])
    return centres[labels] + rng.normal(scale=0.8, size=(n, 2)), labels


def rich_model(seed=0):
    """Every kind of saved state: weights, a learnable activation, buffers, a random stream."""
    with backend.seeded(seed):
        return xpnn.Model(
            xpnn.Dense(2, 8, activation="prelu"), xpnn.BatchNorm(8), xpnn.Dropout(0.25, seed=3),
            xpnn.Residual(xpnn.Dense(8, 8, activation="tanh")), xpnn.LayerNorm(8), xpnn.Dense(8, 3),
        )


def host_state(model):
    return {name: xpnn.to_numpy(held.value).copy() for name, held in model.named_state()}


def fit_arguments(**overrides):
    arguments = dict(loss="cross_entropy", epochs=6, batch_size=16, validation_split=0.25,
                     seed=11, verbose=0)
    arguments.update(overrides)
    return arguments


def optimizer():
    return xpnn.Adam(lr=schedules.CosineDecay(0.05, total_epochs=6, warmup_epochs=2))


def test_save_and_load_give_the_same_predictions(xp, tmp_path):
    X, y = blobs()
    model = rich_model()
    model.fit(X, y, optimizer="adam", **fit_arguments(epochs=2))
    model.save(tmp_path / "model.xpnn")
    loaded = xpnn.load(tmp_path / "model.xpnn")
    assert type(loaded) is xpnn.Model and repr(loaded) == repr(model)
    assert_close(loaded.predict(X), model.predict(X), rtol=0, atol=0)
    for (name, a), (other, b) in zip(model.named_state(), loaded.named_state()):
        assert name == other and a.value.dtype == b.value.dtype


def test_loading_leaves_the_callers_random_stream_alone(xp, tmp_path):
    rich_model().save(tmp_path / "m")
    with backend.seeded(5):
        expected = backend.rng().normal(size=3)
    with backend.seeded(5):
        xpnn.load(tmp_path / "m")
        assert np.array_equal(backend.rng().normal(size=3), expected)


def test_weights_saved_on_numpy_load_on_another_backend(other_backend, tmp_path):
    X, _ = blobs()
    model = rich_model()
    model.save(tmp_path / "m")
    expected = xpnn.to_numpy(model.predict(X))
    with xpnn.use_backend(other_backend):
        loaded = xpnn.load(tmp_path / "m")
        assert backend.backend_name_of(backend.namespace_of(w=loaded[0].weight.value)) == other_backend
        assert_close(loaded.predict(X), expected, rtol=1e-6, atol=1e-6)
        loaded.save(tmp_path / "back")
    assert_close(xpnn.load(tmp_path / "back").predict(X), expected, rtol=1e-6, atol=1e-6)


class Interrupt(xpnn.Callback):
    """Kill the run after an epoch, as a crash would; runs after the checkpoint is written."""

    order = 100

    def __init__(self, after_epoch):
        super().__init__()
        self.after_epoch = after_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.after_epoch:
            raise KeyboardInterrupt


def interrupted_then_resumed(tmp_path, interrupt_after):
    X, y = blobs()
    path = tmp_path / "run.ckpt"
    callbacks = lambda: [xpnn.EarlyStopping(patience=50), xpnn.ModelCheckpoint(path)]  # noqa: E731
    with pytest.raises(KeyboardInterrupt):
        rich_model().fit(X, y, optimizer=optimizer(),
                         callbacks=callbacks() + [Interrupt(interrupt_after)], **fit_arguments())
    resumed = rich_model(seed=99)  # different initial weights: all must come from the file
    history = resumed.fit(X, y, optimizer=optimizer(), callbacks=callbacks(), resume_from=path,
                          **fit_arguments())
    return resumed, history


@pytest.mark.parametrize("interrupt_after", [0, 2, 4])
def test_resume_is_bit_for_bit_on_numpy(tmp_path, interrupt_after):
    X, y = blobs()
    straight = rich_model()
    expected_history = straight.fit(X, y, optimizer=optimizer(),
                                    callbacks=[xpnn.EarlyStopping(patience=50)], **fit_arguments())
    resumed, history = interrupted_then_resumed(tmp_path, interrupt_after)
    expected = host_state(straight)
    for name, value in host_state(resumed).items():
        assert np.array_equal(value, expected[name]), f"{name} differs after resuming"
    assert history.history == expected_history.history and history.epoch == list(range(6))


def test_resume_rebuilds_the_optimizer_when_none_is_given(tmp_path):
    X, y = blobs()
    path = tmp_path / "c"
    model = rich_model()
    model.fit(X, y, optimizer=xpnn.RMSprop(lr=0.01), callbacks=[xpnn.ModelCheckpoint(path)],
              **fit_arguments(epochs=2))
    history = rich_model().fit(X, y, resume_from=path, **fit_arguments(epochs=3))
    assert history.epoch == [0, 1, 2]


def test_a_checkpoint_written_on_one_backend_resumes_on_another(other_backend, tmp_path):
    X, y = blobs()
    straight = rich_model()
    straight.fit(X, y, optimizer=optimizer(), **fit_arguments(epochs=4))
    path = tmp_path / "half"
    rich_model().fit(X, y, optimizer=optimizer(), callbacks=[xpnn.ModelCheckpoint(path)],
                     **fit_arguments(epochs=2))
    with xpnn.use_backend(other_backend):
        resumed = rich_model(seed=7)
        resumed.fit(X, y, optimizer=optimizer(), resume_from=path, **fit_arguments(epochs=4))
        expected = host_state(straight)
        for name, value in host_state(resumed).items():
            assert_close(value, expected[name], rtol=1e-5, atol=1e-6)


def test_checkpoint_path_template_and_save_best_only(xp, tmp_path):
    X, y = blobs()
    template = str(tmp_path / "epoch{epoch:02d}-{val_loss:.3f}")
    saver = xpnn.ModelCheckpoint(template, save_best_only=True)
    history = rich_model().fit(X, y, optimizer="adam", callbacks=[saver], **fit_arguments(epochs=3))
    written = sorted(os.listdir(tmp_path))
    assert written and all(name.startswith("epoch") for name in written)
    assert saver.best == min(history["val_loss"]) and os.path.exists(saver.last_path)
    weights_only = tmp_path / "weights"
    rich_model().fit(X, y, optimizer="adam", callbacks=[xpnn.ModelCheckpoint(weights_only, save_weights_only=True)],
                     **fit_arguments(epochs=1))
    with pytest.raises(ValueError, match=r"holds 'xpnn.model' data, expected 'xpnn.checkpoint'"):
        rich_model().fit(X, y, optimizer="adam", resume_from=weights_only, **fit_arguments())


def test_a_crash_during_a_write_leaves_the_previous_file_intact(xp, tmp_path, monkeypatch):
    X, _ = blobs()
    path = tmp_path / "model"
    model = rich_model()
    model.save(path)
    expected = xpnn.to_numpy(model.predict(X))

    calls = []

    def dies_half_way(stream, payload):
        calls.append(payload)
        stream.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(backend.files, "write_npz", dies_half_way)
    with pytest.raises(OSError, match="simulated"):
        rich_model(seed=1).save(path)
    assert len(calls) == 1, "the save did not go through the patched writer"
    assert os.listdir(tmp_path) == ["model"], "the temporary file was left behind"
    assert_close(xpnn.load(path).predict(X), expected, rtol=0, atol=0)


def test_saving_to_a_folder_or_a_missing_folder_is_refused(xp, tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory"):
        rich_model().save(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        rich_model().save(tmp_path / "no" / "such" / "m")


def test_a_truncated_file_is_named_in_the_error(xp, tmp_path):
    path = tmp_path / "m"
    rich_model().save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=rf"{path}: not a readable \.npz archive \(truncated or corrupted\?\)"):
        xpnn.load(path)


def test_a_corrupted_array_is_caught(xp, tmp_path):
    path = tmp_path / "m"
    rich_model().save(path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("a0.npy")
    middle = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    data[middle] ^= 0xFF  # one flipped byte inside the first weight array
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"{path}: not a readable \.npz archive"):
        xpnn.load(path)


def test_files_that_are_not_xpnn_files(xp, tmp_path):
    garbage = tmp_path / "garbage"
    garbage.write_bytes(os.urandom(300))
    with pytest.raises(ValueError, match=rf"{garbage}: not a readable \.npz archive"):
        xpnn.load(garbage)
    plain = tmp_path / "plain.npz"
    np.savez(plain, weights=np.ones(3))
    with pytest.raises(ValueError, match=r"plain.npz: not an xpnn file"):
        xpnn.load(plain)


def test_pickles_are_never_loaded(xp, tmp_path):
    import json

    sneaky = tmp_path / "sneaky.npz"
    meta = {"format": "xpnn.model", "version": 1, "content": {"state": {"names": ["w"], "arrays": [{"__array__": "a0"}]}}}
    np.savez(sneaky, __xpnn_meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
             a0=np.array([object()], dtype=object))
    with pytest.raises(ValueError, match=r"sneaky.npz: not a readable \.npz archive.*allow_pickle"):
        xpnn.load(sneaky)


def test_wrong_architecture_is_refused_and_changes_nothing(xp, tmp_path):
    path = tmp_path / "m"
    rich_model().save(path)
    other = xpnn.Model(xpnn.Dense(2, 8), xpnn.Dense(8, 3))
    before = host_state(other)
    with pytest.raises(ValueError, match=rf"{path}: does not match this model's architecture: the file lacks"):
        other.load_weights(path)
    narrower = xpnn.Model(xpnn.Dense(2, 8, activation="prelu"), xpnn.BatchNorm(8), xpnn.Dropout(0.25),
                          xpnn.Residual(xpnn.Dense(8, 8)), xpnn.LayerNorm(8), xpnn.Dense(8, 4))
    with pytest.raises(ValueError, match=r"'layers.5.weight' has shape \(8, 3\) in the file but \(8, 4\)"):
        narrower.load_weights(path)
    assert all(np.array_equal(v, before[k]) for k, v in host_state(other).items())


def test_resuming_a_different_architecture_is_refused_before_training(xp, tmp_path):
    X, y = blobs()
    path = tmp_path / "c"
    rich_model().fit(X, y, optimizer="adam", callbacks=[xpnn.ModelCheckpoint(path)], **fit_arguments(epochs=1))
    with pytest.raises(ValueError, match=r"does not match this model's architecture"):
        xpnn.Model(xpnn.Dense(2, 3)).fit(X, y, optimizer="adam", resume_from=path, **fit_arguments())


def test_unknown_layer_class_in_the_architecture(xp, tmp_path):
    from xpnn.training.checkpoint import MODEL_FORMAT, write_file

    path = tmp_path / "odd"
    write_file(path, MODEL_FORMAT, {"architecture": {"class": "os.system", "config": {}},
                                    "state": {"names": [], "arrays": []}})
    with pytest.raises(ValueError, match=r"cannot rebuild the model.*unknown layer class 'os.system'"):
        xpnn.load(path)


def test_resuming_a_run_that_stopped_early_trains_no_further(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 2)), rng.integers(0, 3, size=60)  # random labels: stops early
    arguments = fit_arguments(epochs=80, validation_split=0.3)
    straight = rich_model()
    expected = straight.fit(X, y, optimizer="adam", callbacks=[xpnn.EarlyStopping(patience=2)], **arguments)
    assert expected.stop_reason and len(expected.epoch) < 80
    path = tmp_path / "c"
    rich_model().fit(X, y, optimizer="adam", callbacks=[xpnn.EarlyStopping(patience=2), xpnn.ModelCheckpoint(path)],
                     **arguments)
    resumed = rich_model(seed=5)
    history = resumed.fit(X, y, optimizer="adam", callbacks=[xpnn.EarlyStopping(patience=2)],
                          resume_from=path, **arguments)
    assert history.epoch == expected.epoch and history.stop_reason == expected.stop_reason
    reference = host_state(straight)  # the best epoch's weights, restored by EarlyStopping
    assert all(np.array_equal(v, reference[k]) for k, v in host_state(resumed).items())


def test_resuming_with_another_optimizer_is_refused_and_changes_nothing(xp, tmp_path):
    X, y = blobs()
    path = tmp_path / "c"
    rich_model().fit(X, y, optimizer="adam", callbacks=[xpnn.ModelCheckpoint(path)], **fit_arguments(epochs=1))
    model = rich_model(seed=4)
    before = host_state(model)
    with pytest.raises(ValueError, match=rf"{path}: cannot resume with this optimizer: .*saved by 'Adam', not 'SGD'"):
        model.fit(X, y, optimizer="sgd", resume_from=path, **fit_arguments())
    assert all(np.array_equal(v, before[k]) for k, v in host_state(model).items())


def test_a_checkpoint_missing_entries_is_called_corrupted(xp, tmp_path):
    from xpnn.training.checkpoint import CHECKPOINT_FORMAT, model_state, write_file

    X, y = blobs()
    model = rich_model()
    path = tmp_path / "partial"
    write_file(path, CHECKPOINT_FORMAT, {"state": model_state(model)})
    with pytest.raises(ValueError, match=rf"{path}: corrupted checkpoint: it lacks 'epoch', 'optimizer', "
                                         "'history', 'shuffle_rng', 'layer_random', 'callbacks'"):
        model.fit(X, y, optimizer="adam", resume_from=path, **fit_arguments())


def test_a_checkpoint_with_a_bad_random_stream_names_the_file_and_changes_no_weight(xp, tmp_path):
    from xpnn.training.checkpoint import CHECKPOINT_FORMAT, read_file, write_file

    X, y = blobs()
    path = tmp_path / "run.ckpt"
    rich_model().fit(X, y, optimizer="adam", callbacks=[xpnn.ModelCheckpoint(path)], **fit_arguments(epochs=1))
    content = read_file(path, (CHECKPOINT_FORMAT,))
    content["layer_random"] = [{"seed": 3, "counter": -1}]
    write_file(path, CHECKPOINT_FORMAT, content)
    model = rich_model()
    before = host_state(model)
    with pytest.raises(ValueError, match=rf"{path}: corrupted checkpoint: layer_random\[0\]: .*counter must be an int >= 0"):
        model.fit(X, y, optimizer="adam", resume_from=path, **fit_arguments(epochs=2))
    assert all(np.array_equal(v, before[k]) for k, v in host_state(model).items())


def test_resume_with_a_learning_rate_function_continues_from_its_last_rate(tmp_path):
    X, y = blobs()
    halve = lambda: xpnn.LearningRateScheduler(lambda epoch, lr: lr if epoch == 0 else lr / 2)  # noqa: E731
    straight = rich_model()
    straight.fit(X, y, optimizer=xpnn.SGD(lr=0.1), callbacks=[halve()], **fit_arguments(epochs=4))
    path = tmp_path / "c"
    rich_model().fit(X, y, optimizer=xpnn.SGD(lr=0.1), callbacks=[halve(), xpnn.ModelCheckpoint(path)],
                     **fit_arguments(epochs=2))
    resumed = rich_model(seed=3)
    optimizer = xpnn.SGD(lr=0.1)
    resumed.fit(X, y, optimizer=optimizer, callbacks=[halve()], resume_from=path, **fit_arguments(epochs=4))
    assert optimizer.current_lr == 0.1 / 8
    expected = host_state(straight)
    assert all(np.array_equal(v, expected[k]) for k, v in host_state(resumed).items())


def test_saved_files_get_the_permissions_of_a_plain_write(xp, tmp_path):
    """The temporary file behind an atomic write is private to its owner; the saved file is
    not: new files get 0666 less the umask, a replaced file keeps its mode."""
    previous = os.umask(0o022)
    try:
        model = rich_model()
        model.save(tmp_path / "new.xpnn")
        assert os.stat(tmp_path / "new.xpnn").st_mode & 0o777 == 0o644
        os.chmod(tmp_path / "new.xpnn", 0o640)
        model.save(tmp_path / "new.xpnn")
        assert os.stat(tmp_path / "new.xpnn").st_mode & 0o777 == 0o640
        X, y = blobs()
        rich_model().fit(X, y, optimizer="adam", callbacks=[xpnn.ModelCheckpoint(tmp_path / "run.ckpt")],
                         **fit_arguments(epochs=1))
        assert os.stat(tmp_path / "run.ckpt").st_mode & 0o777 == 0o644
    finally:
        os.umask(previous)


# ---------------------------------------------------------------- issue 18: resume is all or nothing

def _checkpoint_with(tmp_path, change, callbacks=()):
    """A checkpoint of a 1-epoch run with EarlyStopping, edited by ``change(content)``."""
    from xpnn.training.checkpoint import CHECKPOINT_FORMAT, read_file, write_file

    X, y = blobs()
    path = tmp_path / "run.ckpt"
    rich_model().fit(X, y, optimizer="adam", callbacks=[xpnn.EarlyStopping(patience=5), xpnn.ModelCheckpoint(path),
                                                        *callbacks],
                     **fit_arguments(epochs=1))
    content = read_file(path, (CHECKPOINT_FORMAT,))
    change(content)
    write_file(path, CHECKPOINT_FORMAT, content)
    return X, y, path


def _early_stopping_state(content):
    return next(entry["state"] for entry in content["callbacks"] if entry["class"] == "EarlyStopping")


def _set_best_weights(content, arrays):
    _early_stopping_state(content)["best_weights"] = arrays


BAD_CHECKPOINTS = {
    # the case: accepted, and fit returned with every parameter of shape (2,)
    "best weights of the wrong shape": (
        lambda c: _set_best_weights(c, [np.zeros(2)] * len(c["state"]["names"])),
        r"callbacks: EarlyStopping: best_weights for 'layers.0.weight': expected shape \(2, 8\), got \(2,\)"),
    "best weights missing one array": (
        lambda c: _set_best_weights(c, _early_stopping_state(c)["best_weights"][:-1]),
        "callbacks: EarlyStopping: best_weights must be a list of"),
    "a negative epoch": (lambda c: c.update(epoch=-5), r"corrupted checkpoint: epoch: must be an int >= 0, got -5"),
    "a text epoch": (lambda c: c.update(epoch="3"), "corrupted checkpoint: epoch: must be an int >= 0"),
    "bad callback state": (lambda c: _early_stopping_state(c).update(wait="x"),
                           "callbacks: EarlyStopping: 'wait' must be an int >= 0"),
    "callback state lacking keys": (lambda c: _early_stopping_state(c).pop("best"),
                                    "callbacks: EarlyStopping: the state lacks 'best'"),
    "callbacks not a list": (lambda c: c.update(callbacks={"a": 1}), "corrupted checkpoint: callbacks: must be a list"),
    "a history of text": (lambda c: c["history"]["history"].update(loss=["high"]),
                          "corrupted checkpoint: history: loss: must be a list of numbers"),
    "a bad shuffle state": (lambda c: c.update(shuffle_rng={"bit_generator": "nope"}), "corrupted checkpoint: shuffle_rng"),
    "complex weights": (lambda c: c["state"]["arrays"].__setitem__(0, c["state"]["arrays"][0] + 0j),
                        r"'layers.0.weight' has dtype complex64; model arrays hold real numbers"),
    "bool weights": (lambda c: c["state"]["arrays"].__setitem__(0, c["state"]["arrays"][0] > 0),
                     "'layers.0.weight' has dtype bool"),
    "fewer arrays than names": (lambda c: c["state"]["arrays"].pop(), "state names 13 arrays but holds 12"),
    "an optimizer slot of the wrong shape": (
        lambda c: c["optimizer"]["slots"][0].update(exp_avg=np.zeros(3)), "cannot resume with this optimizer"),
}


@pytest.mark.parametrize("case", sorted(BAD_CHECKPOINTS))
def test_a_bad_checkpoint_changes_nothing_and_names_the_entry(xp, tmp_path, case):
    change, message = BAD_CHECKPOINTS[case]
    X, y, path = _checkpoint_with(tmp_path, change)
    model = rich_model(seed=1)
    trained = xpnn.Adam(lr=0.01)
    model.fit(X, y, optimizer=trained, **fit_arguments(epochs=1))  # an optimizer with state to keep
    before, optimizer_before = host_state(model), trained.state_dict()
    early_stopping = xpnn.EarlyStopping(patience=5)
    with pytest.raises(ValueError, match=rf"{path}: .*{message}"):
        model.fit(X, y, optimizer=trained, resume_from=path, callbacks=[early_stopping, xpnn.ModelCheckpoint(path)],
                  **fit_arguments(epochs=3))
    assert all(np.array_equal(v, before[k]) for k, v in host_state(model).items())
    after = trained.state_dict()
    assert after["iterations"] == optimizer_before["iterations"] and after["epoch"] == optimizer_before["epoch"]
    for slots_after, slots_before in zip(after["slots"], optimizer_before["slots"]):
        assert all(np.array_equal(slots_after[k], slots_before[k]) for k in slots_before)
    assert early_stopping.best_weights is None and early_stopping.wait == 0


def test_a_failure_before_the_first_resumed_step_puts_everything_back(xp, tmp_path):
    """The checkpoint is fine, but a callback fails in on_train_begin, after the weights were
    loaded: the model, the optimizer and the random streams are as they were."""
    class Refuses(xpnn.Callback):
        def on_train_begin(self, logs=None):
            raise RuntimeError("not today")

    X, y, path = _checkpoint_with(tmp_path, lambda content: None)
    model = rich_model(seed=1)
    trained = xpnn.Adam(lr=0.01)
    model.fit(X, y, optimizer=trained, **fit_arguments(epochs=1))
    before, iterations = host_state(model), trained.iterations
    stream_state = model.layers[2].random.state_dict()
    with pytest.raises(RuntimeError, match="not today"):
        model.fit(X, y, optimizer=trained, resume_from=path, callbacks=[Refuses()], **fit_arguments(epochs=3))
    assert all(np.array_equal(v, before[k]) for k, v in host_state(model).items())
    assert trained.iterations == iterations and model.layers[2].random.state_dict() == stream_state


@pytest.mark.parametrize("case", ["complex", "bool", "text", "short"])
def test_a_model_file_with_bad_arrays_is_refused(tmp_path, case):
    from xpnn.training.checkpoint import MODEL_FORMAT, read_file, write_file

    path = tmp_path / "m.xpnn"
    xpnn.Model(xpnn.Dense(3, 2)).save(path)
    content = read_file(path, (MODEL_FORMAT,))
    arrays = content["state"]["arrays"]
    if case == "short":  # zip() used to drop the bias: it kept its initial zeros
        arrays.pop()
    else:
        arrays[1] = {"complex": arrays[1] + 1j, "bool": arrays[1] > 0, "text": arrays[1].astype(str)}[case]
    write_file(path, MODEL_FORMAT, content)
    message = "names 2 arrays but holds 1" if case == "short" else "'layers.0.bias' has dtype"
    with pytest.raises(ValueError, match=f"{path}: corrupted: .*{message}"):
        xpnn.load(path)
    with pytest.raises(ValueError, match=message):
        xpnn.Model(xpnn.Dense(3, 2)).load_weights(path)


def test_a_read_only_destination_is_not_replaced(xp, tmp_path):
    """Issue 18, item 1: renaming over a read-only file succeeds, so saving replaced it."""
    path = tmp_path / "kept.xpnn"
    xpnn.Model(xpnn.Dense(2, 2)).save(path)
    before = path.read_bytes()
    os.chmod(path, 0o444)
    model = xpnn.Model(xpnn.Dense(2, 2))
    for save in (model.save, model.save_weights):
        with pytest.raises(PermissionError, match=rf"cannot write '{path}': the file is read-only"):
            save(path)
    for make in (xpnn.ModelCheckpoint, xpnn.callbacks.CSVLogger):  # when made, before any training
        with pytest.raises(PermissionError, match=rf"{make.__name__}: cannot write '{path}': the file is read-only"):
            make(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["kept.xpnn"]  # no temporary file left


@pytest.fixture
def locked_folder(tmp_path):
    """A folder the test may not write in (root may write anywhere: those tests skip)."""
    if not hasattr(os, "geteuid") or os.geteuid() == 0:
        pytest.skip("root may write in any folder")
    folder = tmp_path / "locked"
    folder.mkdir()
    os.chmod(folder, 0o555)
    yield folder
    os.chmod(folder, 0o755)


def test_a_folder_without_write_permission_is_named(locked_folder):
    with pytest.raises(PermissionError, match=rf"cannot write '{locked_folder / 'm.xpnn'}': no permission to create files"):
        xpnn.Model(xpnn.Dense(2, 2)).save(locked_folder / "m.xpnn")


@pytest.mark.parametrize("interrupt_after", [1, 3])
def test_resume_with_a_plateau_schedule_and_early_stopping_counters_is_bit_for_bit(tmp_path, interrupt_after):
    """Issue 18: the bit-for-bit resume test had no schedule with state and no counters."""
    X, y = blobs()
    path = tmp_path / "run.ckpt"

    def make():
        lr = schedules.ReduceOnPlateau(0.05, monitor="val_loss", patience=1, factor=0.5, min_delta=0.05)
        return xpnn.Adam(lr=lr), xpnn.EarlyStopping(patience=4, min_delta=0.05)

    optimizer_, stopper = make()
    straight = rich_model()
    expected = straight.fit(X, y, optimizer=optimizer_, callbacks=[stopper], **fit_arguments(epochs=7))
    with pytest.raises(KeyboardInterrupt):
        first_optimizer, first_stopper = make()
        rich_model().fit(X, y, optimizer=first_optimizer, callbacks=[first_stopper, xpnn.ModelCheckpoint(path),
                                                                     Interrupt(interrupt_after)],
                         **fit_arguments(epochs=7))
    resumed_optimizer, resumed_stopper = make()
    resumed = rich_model(seed=99)
    history = resumed.fit(X, y, optimizer=resumed_optimizer, callbacks=[resumed_stopper, xpnn.ModelCheckpoint(path)],
                          resume_from=path, **fit_arguments(epochs=7))
    assert history.history == expected.history and history.stop_reason == expected.stop_reason
    assert resumed_optimizer.lr.state_dict() == optimizer_.lr.state_dict()
    assert optimizer_.lr.state_dict()["lr"] < 0.05  # the plateau schedule did act
    assert (resumed_stopper.wait, resumed_stopper.best, resumed_stopper.best_epoch) == (
        stopper.wait, stopper.best, stopper.best_epoch)
    for name, value in host_state(resumed).items():
        assert np.array_equal(value, host_state(straight)[name]), name


# ---------------------------------------------------------------- issue 18, items 4 and 12: damaged archives

def _rewritten(source, target, change_member=None, flag_bits=0, method=None):
    """A copy of the zip archive ``source`` with one member's bytes changed, or with
    general-purpose flag bits (1: encrypted) or a compression method set on every member."""
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w") as out:
        for info in archive.infolist():
            data = archive.read(info.filename)
            if change_member is not None and info.filename == "a0.npy":
                data = change_member(data)
            out.writestr(info.filename, data)
    raw = bytearray(target.read_bytes())
    for signature, flags_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        at = raw.find(signature)
        while at != -1:
            raw[at + flags_at] |= flag_bits
            if method is not None:
                raw[at + method_at:at + method_at + 2] = method.to_bytes(2, "little")
            at = raw.find(signature, at + 4)
    target.write_bytes(bytes(raw))
    return target


def _huge_header(data):
    header = np.lib.format.header_data_from_array_1_0(np.zeros((2, 2), np.float32))
    header["shape"] = (10**6, 10**6)
    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(stream, header)
    return stream.getvalue() + data[128:]


@pytest.mark.parametrize("case, arguments, message", [
    # the case: a header declaring (10**6, 10**6) was allocated before anything else
    ("huge header", {"change_member": _huge_header},
     r"corrupted: member 'a0.npy' declares shape \(1000000, 1000000\) of float32 \(4,000,000,000,000 bytes\) but holds 16"),
    ("encrypted entry", {"flag_bits": 1}, "not a readable .npz archive .*RuntimeError: File .* is encrypted"),
    ("unknown compression", {"method": 99}, "not a readable .npz archive .*NotImplementedError: That compression method"),
])
def test_a_damaged_archive_is_a_named_value_error(tmp_path, case, arguments, message):
    xpnn.Model(xpnn.Dense(2, 2)).save(tmp_path / "good.xpnn")
    path = _rewritten(tmp_path / "good.xpnn", tmp_path / "bad.xpnn", **arguments)
    with pytest.raises(ValueError, match=rf"{path}: {message}"):
        xpnn.load(path)


def test_content_that_is_not_a_dict_is_named(tmp_path):
    from xpnn.backend import write_arrays_atomically

    write_arrays_atomically(tmp_path / "list.xpnn", {}, {"format": "xpnn.model", "version": 1, "content": [1, 2]})
    with pytest.raises(ValueError, match="list.xpnn: corrupted: its content is list, not a dict"):
        xpnn.load(tmp_path / "list.xpnn")


def test_only_the_arrays_the_file_refers_to_are_read(tmp_path):
    """Issue 18, item 4: an extra member is never loaded; here it could not be (an object
    array, which allow_pickle=False refuses), and loading still works."""
    path = tmp_path / "m.xpnn"
    model = xpnn.Model(xpnn.Dense(3, 2))
    model.save(path)
    with zipfile.ZipFile(path, "a") as archive:
        stream = io.BytesIO()
        np.save(stream, np.array([{"not": "read"}], dtype=object), allow_pickle=True)
        archive.writestr("unused.npy", stream.getvalue())
    np.testing.assert_array_equal(xpnn.load(path).get_weights()[0], model.get_weights()[0])


def test_a_reference_that_is_not_a_name_is_named(tmp_path):
    from xpnn.training.checkpoint import MODEL_FORMAT, read_file, write_file

    path = tmp_path / "m.xpnn"
    xpnn.Model(xpnn.Dense(3, 2)).save(path)
    content = read_file(path, (MODEL_FORMAT,))
    write_file(path, MODEL_FORMAT, content)
    from xpnn.backend import read_arrays, write_arrays_atomically

    arrays, meta = read_arrays(path)
    meta["content"]["state"]["arrays"][0] = {"__array__": [1]}
    write_arrays_atomically(path, arrays, meta)
    with pytest.raises(ValueError, match=r"m.xpnn: corrupted: it refers to array \[1\] which is missing"):
        xpnn.load(path)


@pytest.mark.parametrize("make", [lambda path: xpnn.ModelCheckpoint(path), lambda path: xpnn.callbacks.CSVLogger(path)],
                         ids=["ModelCheckpoint", "CSVLogger"])
def test_callbacks_do_not_write_over_the_file_the_model_came_from(tmp_path, make):
    """Issue 18, item 1, in Python: the model's own input is known once xpnn.load read it."""
    X, y = blobs()
    path = tmp_path / "m.xpnn"
    xpnn.Model(xpnn.Dense(2, 3)).save(path)
    before = path.read_bytes()
    model = xpnn.load(path)
    weights = model.get_weights()
    with pytest.raises(ValueError, match=r"is the file this model was loaded from; .* would replace the saved model"):
        model.fit(X, y, loss="cross_entropy", optimizer="sgd", verbose=0, callbacks=[make(tmp_path / "." / "m.xpnn")])
    assert path.read_bytes() == before
    np.testing.assert_array_equal(model.get_weights()[0], weights[0])
    model.fit(X, y, loss="cross_entropy", optimizer="sgd", verbose=0)
    model.save(path)  # saving the model back where it came from is what save is for


def test_callbacks_refuse_a_folder_they_cannot_write_in_when_made(locked_folder):
    for make in (xpnn.ModelCheckpoint, xpnn.callbacks.CSVLogger):
        with pytest.raises(PermissionError, match=f"{make.__name__}: path .*: no permission to create files in"):
            make(locked_folder / "out")


def test_a_refused_fit_leaves_an_existing_csv_log_alone(tmp_path, monkeypatch):
    """CSVLogger emptied the user's file in on_train_begin, before a later callback refused."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "log.csv").write_text("epoch,accuracy,loss\n0,0.5,0.7\n1,0.6,0.6\n")
    X, y = blobs()
    with pytest.raises(ValueError, match="needs validation data"):
        xpnn.Model(xpnn.Dense(2, 3)).fit(X, y, loss="cross_entropy", optimizer="sgd", verbose=0,
                                         callbacks=[xpnn.callbacks.CSVLogger("log.csv"),
                                                    xpnn.EarlyStopping(monitor="val_loss")])
    assert (tmp_path / "log.csv").read_text() == "epoch,accuracy,loss\n0,0.5,0.7\n1,0.6,0.6\n"


def test_a_checkpoint_template_may_not_fill_in_the_models_own_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    X, y = blobs()
    xpnn.Model(xpnn.Dense(2, 3)).save("run1.xpnn")
    before = (tmp_path / "run1.xpnn").read_bytes()
    model = xpnn.load("run1.xpnn")
    with pytest.raises(ValueError, match="ModelCheckpoint: run1.xpnn is the file this model was loaded from"):
        model.fit(X, y, loss="cross_entropy", optimizer="sgd", verbose=0,
                  callbacks=[xpnn.ModelCheckpoint("run{epoch}.xpnn", monitor="loss")])
    assert (tmp_path / "run1.xpnn").read_bytes() == before


@pytest.mark.parametrize("change, message", [
    (lambda c: c["optimizer"]["slots"].__setitem__(0, []), "slots must be a list of"),
    (lambda c: c["optimizer"]["slots"][0].update(exp_avg=None), "slots must be a list of"),
    (lambda c: c["optimizer"].update(iterations=-1), "iterations must be an int >= 0"),
    (lambda c: c["optimizer"].update(iterations=True), "iterations must be an int >= 0"),
    (lambda c: c["optimizer"].update(param_steps=[-1] * len(c["optimizer"]["slots"])), "param_steps must list"),
    (lambda c: c["shuffle_rng"]["state"].update(state=-1), "corrupted checkpoint: shuffle_rng"),
    (lambda c: c.update(state=np.zeros(3, dtype=bool)), "corrupted: no model state in it"),
])
def test_more_bad_checkpoints_are_named(tmp_path, change, message):
    """Found by review: these leaked AttributeError, OverflowError or IndexError (nothing had
    changed yet, but the error was raw)."""
    X, y, path = _checkpoint_with(tmp_path, change)
    model = rich_model(seed=1)
    before = host_state(model)
    with pytest.raises(ValueError, match=message):
        model.fit(X, y, optimizer="adam", resume_from=path, callbacks=[xpnn.EarlyStopping(patience=5),
                                                                      xpnn.ModelCheckpoint(path)],
                  **fit_arguments(epochs=3))
    assert all(np.array_equal(v, before[k]) for k, v in host_state(model).items())


def test_a_member_not_named_npy_is_size_checked_too(tmp_path):
    """numpy.load reads any member that starts like a .npy file; the metadata member has no
    .npy suffix, and a header declaring (10**6, 10**6) there was allocated first."""
    xpnn.Model(xpnn.Dense(2, 2)).save(tmp_path / "good.xpnn")
    path = tmp_path / "bad.xpnn"
    with zipfile.ZipFile(tmp_path / "good.xpnn") as archive, zipfile.ZipFile(path, "w") as out:
        for info in archive.infolist():
            data = archive.read(info.filename)
            if info.filename.startswith("__xpnn_meta__"):
                header = np.lib.format.header_data_from_array_1_0(np.zeros(3, np.uint8))
                header["shape"] = (10**6, 10**6)
                stream = io.BytesIO()
                np.lib.format.write_array_header_1_0(stream, header)
                data = stream.getvalue() + b"{}"
                out.writestr("__xpnn_meta__", data)
            else:
                out.writestr(info.filename, data)
    with pytest.raises(ValueError, match=r"corrupted: member '__xpnn_meta__' declares shape \(1000000, 1000000\)"):
        xpnn.load(path)


def test_metadata_nested_too_deep_is_named(tmp_path):
    path = tmp_path / "deep.xpnn"
    xpnn.Model(xpnn.Dense(2, 2)).save(path)
    with zipfile.ZipFile(path, "w") as out:  # replace the whole archive: metadata only
        stream = io.BytesIO()
        np.save(stream, np.frombuffer(b"[" * 100000, dtype=np.uint8))
        out.writestr("__xpnn_meta__.npy", stream.getvalue())
    with pytest.raises(ValueError, match="deep.xpnn: its metadata is corrupted: RecursionError"):
        xpnn.load(path)


def test_a_file_of_pickled_data_gets_no_advice_to_unpickle_it(tmp_path):
    """NumPy's message suggests allow_pickle=True or pickle.load(): xpnn never does either."""
    path = tmp_path / "garbage.xpnn"
    path.write_text("hello")
    with pytest.raises(ValueError, match="garbage.xpnn: not a readable .npz archive") as caught:
        xpnn.load(path)
    assert "unsafely" not in str(caught.value) and "pickle.load" not in str(caught.value)
