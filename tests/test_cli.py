"""The ``xpnn`` command: train / predict / info, and one test per bad input (exit 2, one line)."""

import csv
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from xpnn import backend
from xpnn.cli import main
from xpnn.datasets import load_digits


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_usage_error(capsys, *argv, match):
    code, _, err = run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and "error:" in lines[0]
    assert re.search(match, lines[0]), lines[0]


def write_csv(path, header, rows):
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


@pytest.fixture
def small_csv(tmp_path):
    """200 samples, 3 features, a word-valued class from the sign of x0 + x1."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    labels = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    return write_csv(tmp_path / "small.csv", ["a", "b", "c", "label"],
                     [[*map(float, x), word] for x, word in zip(X, labels)])


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    """A model saved by ``xpnn train --save`` on the digits (3 epochs: quick, good enough)."""
    path = str(tmp_path_factory.mktemp("model") / "digits.xpnn")
    with backend.seeded(0):
        assert main(["train", "--quiet", "--epochs", "3", "--save", path]) == 0
    return path


# ---------------------------------------------------------------- train

def test_the_saved_files_are_readable_as_any_new_file(digits_model):
    """Model, sidecar and checkpoint get 0666 less the umask (pytest runs with the user's
    umask), not the private mode of the temporary files behind the atomic writes."""
    umask = os.umask(0)
    os.umask(umask)
    for path in (digits_model, digits_model + ".json", digits_model + ".ckpt"):
        assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask, path


def test_default_train_reaches_95_percent_on_digits(capsys):
    code, out, err = run(capsys, "train")
    assert code == 0
    assert "Epoch 1/30 - " in out and "val_accuracy" in out  # per-epoch metrics
    assert "\r" not in out + err  # captured output is no terminal: no progress-bar frames
    assert re.search(r"^(Stopped early after epoch \d+/30|Finished: reached the last epoch, 30/30)", out, re.M)
    accuracy = float(re.search(r"test accuracy: ([0-9.]+)", out).group(1))
    assert accuracy >= 0.95


def test_quiet_prints_only_the_result(capsys):
    code, out, err = run(capsys, "train", "--quiet", "--epochs", "2", "--hidden", "16")
    assert code == 0 and err == ""
    assert out.strip().startswith("test loss:") and len(out.strip().splitlines()) == 1


def test_save_writes_model_sidecar_and_checkpoint(digits_model):
    import json

    import xpnn

    for suffix in ("", ".json", ".ckpt"):
        assert os.path.exists(digits_model + suffix)
    with open(digits_model + ".json") as stream:
        meta = json.load(stream)
    assert meta["format"] == "xpnn.cli" and meta["task"] == "classification"
    assert meta["classes"] == [str(d) for d in range(10)]
    assert len(meta["feature_names"]) == len(meta["feature_mean"]) == len(meta["feature_std"]) == 64
    assert min(meta["feature_std"]) > 0  # constant pixels are left unscaled, not divided by 0
    assert xpnn.load(digits_model)(xpnn.asarray(np.zeros((1, 64)), dtype="float32")).shape == (1, 10)


def test_resume_continues_from_the_checkpoint(tmp_path, capsys):
    ckpt = str(tmp_path / "run.ckpt")
    common = ["train", "--hidden", "16", "--seed", "3"]
    assert run(capsys, *common, "--epochs", "2", "--checkpoint", ckpt, "--quiet")[0] == 0
    code, out, _ = run(capsys, *common, "--epochs", "4", "--resume", ckpt)
    assert code == 0
    assert "Epoch 3/4 - " in out and "Epoch 1/4" not in out


def test_resume_with_another_batch_size_warns_on_one_line(tmp_path, capsys):
    ckpt = str(tmp_path / "run.ckpt")
    common = ["train", "--hidden", "16", "--quiet"]
    assert run(capsys, *common, "--epochs", "1", "--checkpoint", ckpt)[0] == 0
    code, _, err = run(capsys, *common, "--epochs", "2", "--batch-size", "32", "--resume", ckpt)
    assert code == 0
    assert err.startswith("xpnn: warning: resuming from") and len(err.strip().splitlines()) == 1


def test_csv_with_word_labels_trains_and_predicts_them(tmp_path, small_csv, capsys):
    model = str(tmp_path / "m.xpnn")
    code, out, _ = run(capsys, "train", "--data", small_csv, "--target", "label", "--epochs", "40",
                       "--hidden", "16", "--batch-size", "16", "--quiet", "--save", model)
    assert code == 0 and float(re.search(r"test accuracy: ([0-9.]+)", out).group(1)) >= 0.85
    output = str(tmp_path / "pred.csv")
    assert run(capsys, "predict", "--model", model, "--data", small_csv, "--output", output)[0] == 0
    with open(output) as stream:
        rows = list(csv.reader(stream))
    with open(small_csv) as stream:
        truth = [row[-1] for row in list(csv.reader(stream))[1:]]
    assert rows[0] == ["prediction"] and len(rows) == 201
    assert np.mean([row[0] == t for row, t in zip(rows[1:], truth)]) >= 0.85


def test_predict_to_stdout_with_probabilities(digits_model, capsys, tmp_path):
    digits = load_digits()
    data = write_csv(tmp_path / "d.csv", ["extra", *digits.feature_names],  # columns found by name
                     [[0, *x] for x in digits.X[:20].tolist()])
    code, out, _ = run(capsys, "predict", "--model", digits_model, "--data", data, "--proba")
    assert code == 0
    rows = list(csv.reader(out.splitlines()))
    assert rows[0] == ["prediction"] + [f"proba_{d}" for d in range(10)] and len(rows) == 21
    assert all(abs(sum(map(float, row[1:])) - 1) < 1e-3 for row in rows[1:])
    assert np.mean([int(row[0]) == y for row, y in zip(rows[1:], digits.y[:20].tolist())]) >= 0.7


def test_npz_regression_round_trip(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(300, 2))
    y = 100.0 + 10.0 * X[:, 0] - 5.0 * X[:, 1]
    data, model = str(tmp_path / "r.npz"), str(tmp_path / "r.xpnn")
    np.savez(data, X=X, y=y)
    code, out, _ = run(capsys, "train", "--data", data, "--epochs", "60", "--hidden", "16",
                       "--lr", "0.01", "--quiet", "--save", model)
    assert code == 0 and float(re.search(r"test r2: ([-0-9.]+)", out).group(1)) > 0.9
    code, out, _ = run(capsys, "predict", "--model", model, "--data", data)
    predictions = np.array([float(v) for v in out.split()[1:]])
    assert code == 0 and np.mean(np.abs(predictions - y)) < 3.0  # back in the target's units


def test_info_lists_backends_and_devices(capsys):
    code, out, _ = run(capsys, "info")
    assert code == 0
    for text in ("xpnn 0.1.0", "active backend", "numpy", "cupy", "devices:", "installed:"):
        assert text in out
    assert re.search(r"numpy +usable", out)


def test_help_and_version_exit_0(capsys):
    assert run(capsys, "--version")[0] == 0
    assert run(capsys, "train", "--help")[0] == 0


# ---------------------------------------------------------------- every bad input: exit 2, one line

@pytest.mark.parametrize("argv, match", [
    ([], r"required"),
    (["fly"], r"invalid choice"),
    (["train", "--hidden", "12,x"], r"--hidden"),
    (["train", "--hidden", "0"], r"--hidden"),
    (["train", "--epochs", "0"], r"--epochs: .0. must be a positive int"),
    (["train", "--patience", "-1"], r"--patience: .-1. must be an int >= 0"),
    (["train", "--validation-split", "1"], r"--validation-split: .1. must be in \[0, 1\)"),
    (["train", "--epochs", "ten"], r"--epochs.*not an integer"),
    (["train", "--batch-size", "-4"], r"--batch-size"),
    (["train", "--lr", "-0.1"], r"--lr"),
    (["train", "--lr", "inf"], r"--lr"),
    (["train", "--target", "digit"], r"--target names a column of --data"),
    (["train", "--test-fraction", "1.5"], r"--test-fraction"),
    (["train", "--activation", "relux"], r"unknown activation 'relux'; valid names: .*relu"),
    (["train", "--optimizer", "adamm"], r"unknown optimizer 'adamm'"),
    (["train", "--backend", "fortran"], r"unknown backend 'fortran'"),
    (["train", "--data", "no/such/file.csv"], r"no/such/file.csv: no such file"),
    (["train", "--data", "no/such/file.npz"], r"no such file"),
    (["predict", "--data", "x.csv"], r"--model"),
])
def test_bad_arguments(capsys, argv, match):
    assert_usage_error(capsys, *argv, match=match)


def test_backend_unavailable(capsys):
    if backend.available_backends()["cupy"][0]:
        pytest.skip("CuPy is usable here")
    assert_usage_error(capsys, "train", "--backend", "cupy", match=r"backend 'cupy'")


def test_unknown_column(small_csv, capsys):
    assert_usage_error(capsys, "train", "--data", small_csv, "--target", "colour",
                       match=r"no column named 'colour'; the columns are: 'a', 'b'")


def test_non_numeric_feature_cell(tmp_path, capsys):
    data = write_csv(tmp_path / "bad.csv", ["a", "y"], [[1, 0], ["two", 1], [3, 0]])
    assert_usage_error(capsys, "train", "--data", data, "--target", "y",
                       match=r"line 3, column 'a': 'two' is not a number")


def test_non_numeric_npz_features(tmp_path, capsys):
    data = str(tmp_path / "s.npz")
    np.savez(data, X=np.array([["a", "b"], ["c", "d"]]), y=np.array([0, 1]))
    assert_usage_error(capsys, "train", "--data", data, match=r"numeric")


def test_single_class_target(tmp_path, capsys):
    data = write_csv(tmp_path / "one.csv", ["a", "y"], [[i, 7] for i in range(10)])
    assert_usage_error(capsys, "train", "--data", data, match=r"single class")


def test_resume_from_missing_file(tmp_path, capsys):
    assert_usage_error(capsys, "train", "--resume", str(tmp_path / "none.ckpt"), match=r"none.ckpt")


def test_resume_from_corrupt_file(tmp_path, capsys):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint at all")
    assert_usage_error(capsys, "train", "--epochs", "1", "--resume", str(bad), match=r"bad.ckpt")


def test_resume_with_another_architecture(digits_model, capsys):
    assert_usage_error(capsys, "train", "--hidden", "8", "--resume", digits_model + ".ckpt",
                       match=r"digits.xpnn.ckpt")


def test_predict_with_missing_model(tmp_path, capsys):
    assert_usage_error(capsys, "predict", "--model", str(tmp_path / "m.xpnn"), "--data", "x.csv",
                       match=r"--model \S*m\.xpnn: no such file$")  # the file the user gave, not the sidecar


def test_predict_with_missing_data(digits_model, tmp_path, capsys):
    assert_usage_error(capsys, "predict", "--model", digits_model, "--data", str(tmp_path / "x.csv"),
                       match=r"x.csv: no such file")


def test_predict_with_other_feature_count_npz(digits_model, tmp_path, capsys):
    data = str(tmp_path / "x.npz")
    np.savez(data, X=np.zeros((4, 10)))
    assert_usage_error(capsys, "predict", "--model", digits_model, "--data", data,
                       match=r"X has 10 features but the model expects 64")


def test_predict_with_missing_columns_csv(digits_model, tmp_path, capsys):
    data = write_csv(tmp_path / "x.csv", ["pixel_0_0", "pixel_0_1"], [[0, 1]])
    assert_usage_error(capsys, "predict", "--model", digits_model, "--data", data,
                       match=r"expects 64 feature columns; missing: pixel_0_2")


def test_predict_with_non_numeric_cell(digits_model, tmp_path, capsys):
    names = load_digits().feature_names
    data = write_csv(tmp_path / "x.csv", names, [["?"] * 64])
    assert_usage_error(capsys, "predict", "--model", digits_model, "--data", data,
                       match=r"line 2, column 'pixel_0_0': '\?' is not a number")


def test_predict_with_corrupt_sidecar(digits_model, tmp_path, capsys):
    import shutil

    copy = str(tmp_path / "copy.xpnn")
    shutil.copy(digits_model, copy)
    with open(copy + ".json", "w") as stream:
        stream.write("{not json")
    assert_usage_error(capsys, "predict", "--model", copy, "--data", "x.csv", match=r"copy.xpnn.json")


# ---------------------------------------------------------------- python -m xpnn

def test_python_dash_m_reports_bad_input_without_traceback():
    result = subprocess.run([sys.executable, "-m", "xpnn", "train", "--activation", "nope"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("xpnn: error: unknown activation 'nope'")
    assert len(result.stderr.strip().splitlines()) == 1
