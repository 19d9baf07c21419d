"""What training prints (verbose, ProgressBar), CSVLogger, and schedules given to
LearningRateScheduler: the text users read, the file they keep, the rates they asked for."""

import csv
import io
import math
import re
from types import SimpleNamespace

import numpy as np
import pytest

import xpnn
from xpnn import backend, schedules


class FakeTerminal(io.StringIO):
    """A stream that says it is a terminal, as sys.stdout does in an interactive shell."""

    def isatty(self):
        return True


def blobs(n=90, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    centres = np.array([[0.0, 3.0], [3.0, -1.0], [-3.0, -1.0]])
    return centres[labels] + rng.normal(scale=0.7, size=(n, 2)), labels


def random_labels(n=90, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)), rng.integers(0, 3, size=n)


def classifier(seed=0, hidden=16):
    with backend.seeded(seed):
        return xpnn.Model(xpnn.Dense(2, hidden, activation="tanh"), xpnn.Dense(hidden, 3))


def host_state(model):
    return {name: xpnn.to_numpy(held.value).copy() for name, held in model.named_state()}


EPOCH_LINE = re.compile(
    r"Epoch (\d+)/(\d+) - \d+(?:ms|\.\ds) - loss: (\S+) - accuracy: (\S+) - val_loss: (\S+) - val_accuracy: (\S+)")


def early_stopped_run(stream, **progress):
    """Random labels: the model can only memorise, so validation loss soon turns upwards."""
    X, y = random_labels()
    stopper = xpnn.EarlyStopping(patience=3)
    model = classifier(hidden=64)
    history = model.fit(X, y, loss="cross_entropy", optimizer=xpnn.Adam(lr=0.05), epochs=60,
                        validation_split=0.3, seed=0,
                        callbacks=[stopper, xpnn.ProgressBar(file=stream, **progress)])
    return history, stopper


# ---------------------------------------------------------------- A. progress output

def test_a_log_file_gets_one_plain_line_per_epoch_and_why_training_stopped(xp):
    stream = io.StringIO()
    history, stopper = early_stopped_run(stream)
    text = stream.getvalue()
    assert "\r" not in text and "step/s" not in text  # no bar frames outside a terminal
    lines = text.splitlines()
    epochs = len(history.epoch)
    assert 1 < epochs < 60 and len(lines) == epochs + 1
    for number, line in enumerate(lines[:-1], start=1):
        match = EPOCH_LINE.fullmatch(line)
        assert match, line
        assert match.group(1, 2) == (str(number), "60")
        # 4 significant digits, the same fields in the same order on every line
        for field, key in zip(match.groups()[2:], ("loss", "accuracy", "val_loss", "val_accuracy")):
            assert re.fullmatch(r"\d\.\d{3}|0\.\d{4}|\d\d\.\d\d", field), field
            assert math.isclose(float(field), history[key][number - 1], rel_tol=1e-3)
    best = stopper.best_epoch + 1  # 1-based, as the lines count
    assert lines[-1] == (f"Stopped early after epoch {epochs}/60: EarlyStopping: val_loss did not improve "
                         f"for 3 epochs (best {stopper.best:#.4g} at epoch {best}); weights of epoch {best} restored")
    assert history.stop_reason in lines[-1] and history.epoch[0] == 0  # History.epoch stays 0-based


def test_a_terminal_gets_a_bar_per_epoch_that_its_line_replaces(xp):
    stream = FakeTerminal()
    history, _ = early_stopped_run(stream, refresh_seconds=0)
    text = stream.getvalue()
    assert "\r" in text and "step/s" in text and "loss=" in text  # tqdm's bar, with the batch loss
    shown = [line.split("\r")[-1] for line in text.split("\n")[:-1]]  # what stays on screen
    assert len(shown) == len(history.epoch) + 1
    assert all(EPOCH_LINE.fullmatch(line) for line in shown[:-1]), shown
    assert shown[-1].startswith(f"Stopped early after epoch {len(history.epoch)}/60: EarlyStopping")
    for number in range(1, len(history.epoch) + 1):
        assert f"Epoch {number}/60:" in text  # the bar of that epoch, before its line


def test_verbose_2_never_draws_a_bar_even_on_a_terminal(xp):
    stream = FakeTerminal()
    X, y = blobs()
    classifier().fit(X, y, loss="cross_entropy", optimizer="adam", epochs=2, verbose=0,
                     callbacks=[xpnn.ProgressBar(per_epoch_lines=True, file=stream)])
    lines = stream.getvalue().split("\n")
    assert "\r" not in stream.getvalue() and lines[-1] == ""
    assert [line.split(" - ")[0] for line in lines[:-1]] == ["Epoch 1/2", "Epoch 2/2", "Finished: reached the last epoch, 2/2"]


@pytest.mark.parametrize("verbose", [1, 2])
def test_fit_verbose_prints_to_stdout_plain_when_captured(xp, capsys, verbose):
    X, y = blobs()
    classifier().fit(X, y, loss="cross_entropy", optimizer="adam", epochs=3, verbose=verbose, validation_split=0.2)
    out, err = capsys.readouterr()
    assert err == "" and "\r" not in out
    lines = out.splitlines()
    assert len(lines) == 4 and all(EPOCH_LINE.fullmatch(line) for line in lines[:3])
    assert lines[-1] == "Finished: reached the last epoch, 3/3"


def test_the_final_line_names_weights_restored_when_the_epochs_ran_out(xp):
    X, y = random_labels()
    stream = io.StringIO()
    stopper = xpnn.EarlyStopping(patience=100)
    classifier(hidden=64).fit(X, y, loss="cross_entropy", optimizer=xpnn.Adam(lr=0.05), epochs=12,
                              validation_split=0.3, seed=0, callbacks=[stopper, xpnn.ProgressBar(file=stream)])
    assert stopper.restored_epoch is not None and stopper.restored_epoch < 11
    assert stream.getvalue().splitlines()[-1] == (
        f"Finished: reached the last epoch, 12/12; EarlyStopping restored the weights of epoch "
        f"{stopper.restored_epoch + 1} (best val_loss: {stopper.best:#.4g})")


@pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value encountered")
def test_the_final_line_and_warning_name_the_nan_epoch_counting_from_1(xp):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3))
    y = X @ np.array([[1.5], [-2.0], [0.5]]) * 1e3
    stream = io.StringIO()
    with pytest.warns(RuntimeWarning, match=r"TerminateOnNaN: loss=(nan|inf) in epoch \d+") as caught:
        history = xpnn.Model(xpnn.Dense(3, 1)).fit(
            X, y, loss="mse", optimizer=xpnn.SGD(lr=10.0), epochs=100,
            callbacks=[xpnn.TerminateOnNaN(), xpnn.ProgressBar(file=stream)])
    epochs = len(history.epoch)
    message = next(str(w.message) for w in caught if "TerminateOnNaN" in str(w.message))
    assert f"in epoch {epochs};" in message  # the epoch whose line shows the NaN
    last = stream.getvalue().splitlines()[-1]
    assert last.startswith(f"Stopped early after epoch {epochs}/100: TerminateOnNaN: loss=")
    assert f"in epoch {epochs};" in last


def test_a_resumed_run_that_had_finished_says_there_is_nothing_to_train(xp, tmp_path):
    X, y = blobs()
    path = tmp_path / "run.ckpt"
    classifier().fit(X, y, loss="cross_entropy", optimizer="adam", epochs=2, verbose=0,
                     callbacks=[xpnn.ModelCheckpoint(path)])
    stream = io.StringIO()
    classifier().fit(X, y, loss="cross_entropy", optimizer="adam", epochs=2, resume_from=path,
                     callbacks=[xpnn.ProgressBar(file=stream)])
    assert stream.getvalue() == "Nothing to train: the run is already at epoch 2/2\n"


class Unreadable:
    """A stand-in for a device loss: reading it fails the test."""

    def __float__(self):
        raise AssertionError("the batch loss was read")


def started_bar(stream, refresh_seconds):
    bar = xpnn.ProgressBar(file=stream, refresh_seconds=refresh_seconds)
    bar.set_trainer(SimpleNamespace(epochs=2, steps_per_epoch=3))
    bar.on_train_begin()
    bar.on_epoch_begin(0)
    return bar


def test_the_batch_loss_is_read_only_when_a_bar_refresh_is_due():
    for stream in (io.StringIO(), FakeTerminal()):  # no bar; a bar not due for a refresh
        bar = started_bar(stream, refresh_seconds=1e9)
        for batch in range(3):
            bar.on_batch_end(batch, {"loss": Unreadable(), "size": 4})
        bar._close_bar()
    bar = started_bar(FakeTerminal(), refresh_seconds=0)
    with pytest.raises(AssertionError, match="the batch loss was read"):
        bar.on_batch_end(0, {"loss": Unreadable(), "size": 4})
    bar._close_bar()


def test_progress_bar_arguments_are_checked_when_made():
    with pytest.raises(TypeError, match="ProgressBar: file must be a text stream with a write method or None, got int"):
        xpnn.ProgressBar(file=3)
    with pytest.raises(ValueError, match="ProgressBar: refresh_seconds"):
        xpnn.ProgressBar(refresh_seconds=-1)


def test_learning_rate_scheduler_messages_count_epochs_from_1(xp, capsys):
    X, y = blobs()
    halve = xpnn.LearningRateScheduler(lambda epoch, lr: 0.1 / 2 ** epoch, verbose=True)
    classifier().fit(X, y, loss="cross_entropy", optimizer="sgd", epochs=2, verbose=0, callbacks=[halve])
    assert capsys.readouterr().out.splitlines() == [
        "Epoch 1: LearningRateScheduler set the learning rate to 0.1000",
        "Epoch 2: LearningRateScheduler set the learning rate to 0.05000",
    ]
    bad = xpnn.LearningRateScheduler(lambda epoch, lr: -1.0 if epoch == 1 else lr)
    with pytest.raises(ValueError, match="the lr its schedule gave for epoch 2"):
        classifier().fit(X, y, loss="cross_entropy", optimizer="sgd", epochs=2, verbose=0, callbacks=[bad])


# ---------------------------------------------------------------- B. CSVLogger

def read_rows(path, separator=","):
    with open(path, newline="") as file:
        return list(csv.reader(file, delimiter=separator))


def test_csv_logger_writes_a_header_and_one_row_per_epoch(xp, tmp_path):
    X, y = blobs()
    path = tmp_path / "log.csv"
    history = classifier().fit(X, y, loss="cross_entropy", optimizer="adam", epochs=3, verbose=0,
                               validation_split=0.2, callbacks=[xpnn.callbacks.CSVLogger(path)])
    rows = read_rows(path)
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [row[0] for row in rows[1:]] == ["0", "1", "2"]  # 0-based, as Keras's CSVLogger
    for row, epoch in zip(rows[1:], range(3)):
        for key, value in zip(rows[0][1:], row[1:]):
            assert float(value) == history[key][epoch]  # full precision
    # a second run with append=False starts the file again
    classifier().fit(X, y, loss="cross_entropy", optimizer="adam", epochs=1, verbose=0,
                     validation_split=0.2, callbacks=[xpnn.CSVLogger(path)])
    assert len(read_rows(path)) == 2


def test_csv_logger_flushes_every_row(xp, tmp_path):
    path = tmp_path / "log.csv"
    seen = []

    class Reader(xpnn.Callback):
        order = 5  # after the logger, while its file is still open

        def on_epoch_end(self, epoch, logs=None):
            seen.append(len(read_rows(path)))

    classifier().fit(*blobs(), loss="cross_entropy", optimizer="adam", epochs=3, verbose=0,
                     callbacks=[xpnn.CSVLogger(path), Reader()])
    assert seen == [2, 3, 4]


def test_csv_logger_append_keeps_rows_and_writes_the_header_once(xp, tmp_path):
    path = tmp_path / "log.csv"
    arguments = dict(loss="cross_entropy", optimizer="adam", epochs=2, verbose=0)
    classifier().fit(*blobs(), **arguments, callbacks=[xpnn.CSVLogger(path, separator=";", append=True)])
    classifier().fit(*blobs(), **arguments, callbacks=[xpnn.CSVLogger(path, separator=";", append=True)])
    rows = read_rows(path, ";")
    assert rows[0] == ["epoch", "accuracy", "loss"] and [row[0] for row in rows[1:]] == ["0", "1", "0", "1"]
    with pytest.raises(ValueError, match=r"CSVLogger: .*log.csv has the columns \['epoch', 'accuracy', 'loss'\], "
                                         r"but this run logs \['epoch', 'accuracy', 'loss', 'val_accuracy', 'val_loss'\]"):
        classifier().fit(*blobs(), **arguments, validation_split=0.2,
                         callbacks=[xpnn.CSVLogger(path, separator=";", append=True)])
    assert len(read_rows(path, ";")) == 5  # nothing written under the wrong header


def test_csv_logger_continues_a_resumed_run_as_if_it_never_stopped(xp, tmp_path):
    X, y = blobs()
    arguments = dict(loss="cross_entropy", optimizer="adam", batch_size=16, validation_split=0.2, seed=4, verbose=0)
    straight = tmp_path / "straight.csv"
    classifier().fit(X, y, epochs=5, **arguments, callbacks=[xpnn.CSVLogger(straight)])
    # killed after epoch 3 had its row but before its checkpoint: the last checkpoint holds 2 epochs
    log = tmp_path / "log.csv"
    classifier().fit(X, y, epochs=3, **arguments,
                     callbacks=[xpnn.CSVLogger(log), xpnn.ModelCheckpoint(str(tmp_path / "ckpt-{epoch}"))])
    assert len(read_rows(log)) == 4
    classifier(seed=9).fit(X, y, epochs=5, **arguments, resume_from=tmp_path / "ckpt-2",
                           callbacks=[xpnn.CSVLogger(log), xpnn.ModelCheckpoint(str(tmp_path / "ckpt-{epoch}"))])
    assert log.read_text() == straight.read_text()
    assert [row[0] for row in read_rows(log)] == ["epoch", "0", "1", "2", "3", "4"]


def test_csv_logger_checks_its_arguments_when_made(tmp_path):
    with pytest.raises(IsADirectoryError, match=r"CSVLogger: path .* is a directory; give a file name"):
        xpnn.CSVLogger(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"CSVLogger: path .*log.csv.: folder .*missing.* does not exist"):
        xpnn.CSVLogger(tmp_path / "missing" / "log.csv")
    with pytest.raises(TypeError, match="CSVLogger: path must be a str or os.PathLike, got int"):
        xpnn.CSVLogger(3)
    with pytest.raises(ValueError, match="CSVLogger: separator must be one character .* got ';;'"):
        xpnn.CSVLogger(tmp_path / "log.csv", separator=";;")
    with pytest.raises(TypeError, match="CSVLogger: separator must be a one-character str, got int"):
        xpnn.CSVLogger(tmp_path / "log.csv", separator=0)
    assert not (tmp_path / "log.csv").exists()  # made, not yet written


def test_model_checkpoint_checks_its_path_when_made_not_after_an_epoch(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"ModelCheckpoint: path .*run.ckpt.: folder .*missing.* does not exist"):
        xpnn.ModelCheckpoint(tmp_path / "missing" / "run.ckpt")
    with pytest.raises(IsADirectoryError, match=r"ModelCheckpoint: path .* is a directory; give a file name"):
        xpnn.ModelCheckpoint(tmp_path)
    with pytest.raises(TypeError, match="ModelCheckpoint: path must be a str or os.PathLike, got int"):
        xpnn.ModelCheckpoint(3)
    xpnn.ModelCheckpoint(str(tmp_path / "{epoch}" / "run.ckpt"))  # a folder filled in per epoch: not checked
    xpnn.ModelCheckpoint(str(tmp_path / "run-{epoch:02d}.ckpt"))


# ---------------------------------------------------------------- C. schedules in LearningRateScheduler

class RecordRates(xpnn.Callback):
    """The rate each epoch trains with (read after LearningRateScheduler has set it)."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_epoch_begin(self, epoch, logs=None):
        self.rates.append(self.trainer.optimizer.current_lr)


def plateau():
    return schedules.ReduceOnPlateau(0.5, monitor="loss", patience=1, factor=0.5)


def test_a_plateau_schedule_in_the_callback_gives_the_rates_it_gives_as_the_optimizers_lr(xp):
    X, y = random_labels()
    arguments = dict(loss="cross_entropy", epochs=12, batch_size=8, seed=1, verbose=0)
    in_optimizer, in_callback = RecordRates(), RecordRates()
    model_a, model_b = classifier(hidden=32), classifier(hidden=32)
    model_a.fit(X, y, optimizer=xpnn.SGD(lr=plateau()), callbacks=[in_optimizer], **arguments)
    model_b.fit(X, y, optimizer=xpnn.SGD(lr=0.5), callbacks=[xpnn.LearningRateScheduler(plateau()), in_callback],
                **arguments)
    assert in_callback.rates == in_optimizer.rates
    assert min(in_optimizer.rates) < 0.5  # the plateau was reached: the rate did change
    expected = host_state(model_a)
    assert all(np.array_equal(value, expected[name]) for name, value in host_state(model_b).items())


def test_a_plateau_schedule_in_the_callback_survives_a_resume(xp, tmp_path):
    X, y = random_labels()
    arguments = dict(loss="cross_entropy", batch_size=8, seed=1, verbose=0)
    straight = RecordRates()
    classifier(hidden=32).fit(X, y, optimizer=xpnn.SGD(lr=0.5), epochs=12, **arguments,
                              callbacks=[xpnn.LearningRateScheduler(plateau()), straight])
    path = tmp_path / "run.ckpt"
    first = RecordRates()
    classifier(hidden=32).fit(X, y, optimizer=xpnn.SGD(lr=0.5), epochs=7, **arguments,
                              callbacks=[xpnn.LearningRateScheduler(plateau()), first, xpnn.ModelCheckpoint(path)])
    rest = RecordRates()
    classifier(seed=5, hidden=32).fit(X, y, optimizer=xpnn.SGD(lr=0.5), epochs=12, resume_from=path, **arguments,
                                      callbacks=[xpnn.LearningRateScheduler(plateau()), rest])
    assert first.rates + rest.rates == straight.rates and len(set(straight.rates)) > 2


def test_schedules_that_would_do_nothing_are_refused_before_training(xp):
    X, y = blobs()
    arguments = dict(loss="cross_entropy", epochs=2, verbose=0)
    model = classifier()
    before = host_state(model)
    on_validation = schedules.ReduceOnPlateau(0.1)  # monitor="val_loss"
    with pytest.raises(ValueError, match=r"LearningRateScheduler\(ReduceOnPlateau\): monitor='val_loss' "
                                         r"needs validation data"):
        model.fit(X, y, optimizer="sgd", callbacks=[xpnn.LearningRateScheduler(on_validation)], **arguments)
    with pytest.raises(ValueError, match=r"fit: SGD\(lr=ReduceOnPlateau\): monitor='val_loss' needs validation data"):
        model.fit(X, y, optimizer=xpnn.SGD(lr=on_validation), **arguments)
    with pytest.raises(ValueError, match=r"LearningRateScheduler: the optimizer's lr is already a schedule "
                                         r"\(CosineDecay\(.*\)\); this callback would replace it"):
        model.fit(X, y, optimizer=xpnn.SGD(lr=schedules.CosineDecay(0.1, total_epochs=2)),
                  callbacks=[xpnn.LearningRateScheduler(schedules.StepDecay(0.1))], **arguments)
    assert all(np.array_equal(value, before[name]) for name, value in host_state(model).items())
    with pytest.raises(TypeError, match=r"LearningRateScheduler: schedule must be a Schedule instance .* "
                                        r"got the class StepDecay"):
        xpnn.LearningRateScheduler(schedules.StepDecay)
    # with validation data both are accepted
    model.fit(X, y, optimizer="sgd", validation_split=0.2, callbacks=[xpnn.LearningRateScheduler(on_validation)],
              **arguments)
