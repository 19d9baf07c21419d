"""Issue 16: the ``xpnn`` command as a user's tool. Each finding's input, written as the CSV files
a user would have, and every place the same fault can occur."""

import csv
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import xpnn
from xpnn import cli
from xpnn.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
FAST = ["--epochs", "2", "--hidden", "8", "--batch-size", "32"]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(capsys, *argv, code=2):
    got, out, err = run(capsys, *argv)
    lines = err.strip().splitlines()
    assert got == code and len(lines) == 1 and "Traceback" not in err, (got, err)
    return lines[0]


def write_table(path, header, rows, delimiter=","):
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def features(n=300, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 3))


@pytest.fixture
def ages_csv(tmp_path):
    """An integer target with about 57 distinct ages: a quantity."""
    X = features()
    age = np.clip(np.round(45 + 10 * X[:, 0] + 5 * X[:, 1]), 18, 90).astype(int)
    return write_table(tmp_path / "ages.csv", ["a", "b", "c", "age"], [[*x, a] for x, a in zip(X.tolist(), age.tolist())])


@pytest.fixture
def savetxt_csv(tmp_path):
    """0/1 labels written as 0.000000000000000000e+00 by numpy.savetxt: classes."""
    X = features()
    label = (X[:, 0] + X[:, 1] > 0).astype(float)
    path = str(tmp_path / "bin.csv")
    np.savetxt(path, np.column_stack([X, label]), delimiter=",", header="a,b,c,y", comments="")
    return path


@pytest.fixture
def price_csv(tmp_path):
    """A regression in large units: price = 1000 + 100 a - 50 b + noise of 5."""
    X = features()
    price = 1000 + 100 * X[:, 0] - 50 * X[:, 1] + np.random.default_rng(1).normal(0, 5, 300)
    return write_table(tmp_path / "price.csv", ["a", "b", "c", "price"], [[*x, p] for x, p in zip(X.tolist(), price.tolist())])


# ---------------------------------------------------------------- 1. the task, chosen and shown

def test_many_distinct_ages_are_a_regression_and_the_choice_is_printed_before_training(ages_csv, capsys):
    code, out, _ = run(capsys, "train", "--data", ages_csv, *FAST)
    assert code == 0
    first_epoch = out.index("Epoch 1/2")
    for line in ("data: ", "task: ", "split: ", "backend: ", "model: "):
        assert 0 <= out.index(line) < first_epoch, line
    assert re.search(r"^task: regression \(auto: the target holds \d\d distinct whole numbers among 300 samples.*"
                     r"--task classification to override\)$", out, re.M)
    assert re.search(r"^data: .*ages.csv: 300 rows, 3 features; target 'age' \(the last column; --target NAME "
                     r"to choose another\): from 18 to \d+", out, re.M)
    active = xpnn.backend.active()
    assert f"backend: {active.name} {active.version} on {active.device}; chosen: {active.reason}\n" in out
    assert re.search(r"^model: 3 -> 8 -> 1 \(relu\), 41 parameters; loss mse, optimizer adam$", out, re.M)
    assert "test accuracy" not in out and "test rmse" in out


def test_savetxt_float_labels_are_classes(savetxt_csv, tmp_path, capsys):
    model = tmp_path / "m.xpnn"
    code, out, _ = run(capsys, "train", "--data", savetxt_csv, *FAST, "--save", model)
    assert code == 0 and re.search(r"^task: classification \(auto: the target holds 2 distinct whole numbers", out, re.M)
    assert "2 classes (0, 1)" in out
    with open(f"{model}.json") as stream:
        meta = json.load(stream)
    assert meta["task"] == "classification" and meta["classes"] == ["0", "1"] and meta["target"] == "y"
    code, out, _ = run(capsys, "predict", "--model", model, "--data", savetxt_csv)
    assert code == 0 and set(out.split()[1:]) <= {"0", "1"}


def test_task_option_overrides_auto_and_refuses_what_cannot_be(ages_csv, tmp_path, capsys):
    code, out, _ = run(capsys, "train", "--data", ages_csv, *FAST, "--task", "classification", "--validation-split", "0")
    assert code == 0 and "task: classification (--task)" in out and "test accuracy" in out
    code, out, _ = run(capsys, "train", "--data", ages_csv, *FAST, "--task", "regression")
    assert code == 0 and "task: regression (--task)" in out
    assert "holds words (setosa, versicolor" in one_error_line(capsys, "train", "--data", "iris", "--task", "regression")
    words = write_table(tmp_path / "w.csv", ["a", "kind"], [[i, "spam" if i % 2 else "ham"] for i in range(20)])
    line = one_error_line(capsys, "train", "--data", words, "--task", "regression")
    assert re.search(r"--task regression: the target 'kind' holds words \(ham, spam", line)
    assert "invalid choice" in one_error_line(capsys, "train", "--task", "clustering")


def test_choose_task_rule_at_its_edges():
    xp = xpnn.backend.host_namespace()
    def task(values):
        return cli.choose_task(xp, xp.asarray(values), None, "auto", "f.csv", "t")[0]
    assert task([0.0, 1.0] * 3) == "classification"  # two values are always classes
    assert task([0, 1, 2, 3] * 5) == "classification"  # 4 values, 5 samples each
    assert task([0, 1, 2, 3] * 4 + [0, 1, 2]) == "regression"  # fewer than 5 samples per value
    assert task(list(range(21)) * 10) == "regression"  # more than 20 values
    assert task([0.5, 1.0] * 10) == "regression"  # fractional


# ---------------------------------------------------------------- 2. resuming writes the model it resumed

def test_resume_without_save_writes_the_resumed_model(savetxt_csv, tmp_path, capsys):
    model = str(tmp_path / "m.xpnn")
    common = ["train", "--data", savetxt_csv, "--hidden", "8", "--validation-split", "0", "--quiet"]
    assert run(capsys, *common, "--epochs", "3", "--save", model)[0] == 0
    three_epochs = xpnn.load(model).get_weights()
    code, out, _ = run(capsys, *common, "--epochs", "6", "--resume", model + ".ckpt")
    assert code == 0
    assert f"saved the resumed model to {model} (+ {model}.json; the model path of the run that wrote {model}.ckpt" in out
    resumed, final = xpnn.load(model).get_weights(), xpnn.load(model + ".ckpt").get_weights()
    assert all(np.array_equal(xpnn.to_numpy(a), xpnn.to_numpy(b)) for a, b in zip(resumed, final))
    assert not all(np.array_equal(xpnn.to_numpy(a), xpnn.to_numpy(b)) for a, b in zip(resumed, three_epochs))


def test_resume_of_a_checkpoint_only_run_writes_a_model_named_after_it(savetxt_csv, tmp_path, capsys):
    ckpt = str(tmp_path / "run.ckpt")
    common = ["train", "--data", savetxt_csv, "--hidden", "8", "--quiet"]
    assert run(capsys, *common, "--epochs", "1", "--checkpoint", ckpt)[0] == 0
    assert not os.path.exists(tmp_path / "run.xpnn")
    code, out, _ = run(capsys, *common, "--epochs", "2", "--resume", ckpt)
    assert code == 0 and f"saved the resumed model to {tmp_path / 'run.xpnn'}" in out and "run.ckpt without .ckpt" in out
    assert run(capsys, "predict", "--model", tmp_path / "run.xpnn", "--data", savetxt_csv)[0] == 0


def test_resume_with_save_writes_there(savetxt_csv, tmp_path, capsys):
    common = ["train", "--data", savetxt_csv, "--hidden", "8", "--quiet"]
    assert run(capsys, *common, "--epochs", "1", "--save", tmp_path / "a.xpnn")[0] == 0
    code, out, _ = run(capsys, *common, "--epochs", "2", "--resume", tmp_path / "a.xpnn.ckpt", "--save", tmp_path / "b.xpnn")
    assert code == 0 and os.path.exists(tmp_path / "b.xpnn") and os.path.exists(tmp_path / "b.xpnn.json")


def test_predict_warns_when_the_checkpoint_is_newer_than_the_model(savetxt_csv, tmp_path, capsys):
    model = str(tmp_path / "m.xpnn")
    assert run(capsys, "train", "--data", savetxt_csv, *FAST, "--quiet", "--save", model)[0] == 0
    later = os.path.getmtime(model) + 60
    os.utime(model + ".ckpt", (later, later))
    code, _, err = run(capsys, "predict", "--model", model, "--data", savetxt_csv)
    assert code == 0 and err.startswith("xpnn: warning: ") and "m.xpnn.ckpt is newer than" in err


# ---------------------------------------------------------------- 3. nan, inf and missing markers

MISSING = ["nan", "NaN", "NA", "N/A", "null", "None", ""]


def nan_table(tmp_path, cell, column):
    X = features(40)
    rows = [[*x, int(x[0] > 0)] for x in X.tolist()]
    rows[8][column] = cell  # data row 9 is line 10 of the file
    return write_table(tmp_path / "cells.csv", ["a", "b", "c", "y"], rows)


@pytest.mark.parametrize("cell", MISSING)
@pytest.mark.parametrize("column", [1, 3])
def test_a_missing_cell_is_refused_with_line_and_column(tmp_path, capsys, cell, column):
    data = nan_table(tmp_path, cell, column)
    line = one_error_line(capsys, "train", "--data", data, *FAST)
    name = ["a", "b", "c", "y"][column]
    assert re.search(rf"cells.csv: line 10, column '{name}': (an empty cell \(missing (value|target)\)|'{re.escape(cell)}' "
                     rf"marks a missing (value|target)); fill it in, or drop such rows \(--missing drop\)$", line), line


@pytest.mark.parametrize("cell", ["inf", "-inf", "Infinity", "1e999"])
@pytest.mark.parametrize("column", [1, 3])
def test_a_non_finite_cell_is_refused_even_with_missing_drop(tmp_path, capsys, cell, column):
    data = nan_table(tmp_path, cell, column)
    name = ["a", "b", "c", "y"][column]
    for extra in ([], ["--missing", "drop"]):
        line = one_error_line(capsys, "train", "--data", data, *FAST, *extra)
        assert re.search(rf"line 10, column '{name}': '{re.escape(cell)}' is not a finite number$", line), line


def test_missing_drop_skips_those_rows(tmp_path, capsys):
    data = nan_table(tmp_path, "NA", 1)
    code, out, err = run(capsys, "train", "--data", data, *FAST, "--missing", "drop")
    assert code == 0 and "39 rows" in out
    assert err == f"xpnn: note: --missing drop: 1 rows of {data} with a missing value were dropped\n"


def test_non_finite_npz_features_and_predict_cells_are_named(tmp_path, capsys, savetxt_csv):
    X = features(40)
    X[3, 1] = np.nan
    data = str(tmp_path / "x.npz")
    np.savez(data, X=X, y=(X[:, 0] > 0).astype(int))
    line = one_error_line(capsys, "train", "--data", data)
    assert "x.npz: X row 3, column 1 ('X_1'): nan is not a finite number (1 such values)" in line
    model = str(tmp_path / "m.xpnn")
    assert run(capsys, "train", "--data", savetxt_csv, *FAST, "--quiet", "--save", model)[0] == 0
    bad = write_table(tmp_path / "new.csv", ["a", "b", "c"], [[1, 2, 3], [1, "inf", 3], [1, "NA", 2]])
    assert re.search(r"new.csv: line 3, column 'b': 'inf' is not a finite number$",
                     one_error_line(capsys, "predict", "--model", model, "--data", bad))
    assert one_error_line(capsys, "predict", "--model", model, "--data", data).endswith(
        "x.npz: X row 3, column 1: nan is not a finite number (1 such values); fill them in or drop those rows")


# ---------------------------------------------------------------- 4. regression in the target's units

def test_regression_metrics_are_in_the_targets_units_and_the_sidecar_names_it(price_csv, tmp_path, capsys):
    model = str(tmp_path / "p.xpnn")
    code, out, _ = run(capsys, "train", "--data", price_csv, "--epochs", "60", "--hidden", "16", "--lr", "0.01",
                       "--save", model)
    assert code == 0
    found = re.search(r"^test rmse: ([0-9.e+]+) - test mae: ([0-9.e+]+) - test r2: ([-0-9.]+) "
                      r"\(rmse and mae in the units of 'price'\)$", out, re.M)
    rmse, mae, r2 = map(float, found.groups())
    assert 2 < rmse < 40 and mae <= rmse and r2 > 0.95  # noise of 5 price units; standardized would be < 1
    with open(model + ".json") as stream:
        assert json.load(stream)["target"] == "price"  # not "last column"
    line = one_error_line(capsys, "predict", "--model", model, "--data", tmp_path / "none.csv", "--proba")
    assert "--proba: " in line and "regression model; probabilities need a classifier" in line


# ---------------------------------------------------------------- 5. --hidden, memory, no traceback

@pytest.mark.parametrize("text, match", [
    ("", r"'' is empty"), ("10,,5", r"'10,,5': width 2 of 3 is empty"), ("10,", r"'10,': width 2 of 2 is empty"),
    (",10", r"width 1 of 2 is empty"), ("10,-5", r"width 2 \('-5'\) is not an integer > 0"),
    ("1e3", r"is not an integer > 0"), ("0", r"is not an integer > 0"),
])
def test_hidden_is_validated(capsys, text, match):
    line = one_error_line(capsys, "train", "--hidden", text)
    assert "argument --hidden" in line and re.search(match, line), line


def test_hidden_none_is_a_linear_model(savetxt_csv, capsys):
    code, out, _ = run(capsys, "train", "--data", savetxt_csv, "--hidden", "none", "--epochs", "1")
    assert code == 0 and "model: 3 -> 2 (relu), 8 parameters" in out


@pytest.mark.parametrize("argv", [["--hidden", "1000000000"], ["--hidden", "100000,100000"],
                                  ["--hidden", "20000,20000,20000"]])
def test_a_model_too_large_for_memory_is_refused_before_building(capsys, argv, monkeypatch):
    monkeypatch.setattr(xpnn.backend, "available_memory", lambda: (2 ** 30, "available memory (test)"))
    line = one_error_line(capsys, "train", *argv)
    assert re.search(r"needs about [0-9.]+ [GT]iB to train \(weights, gradients, optimizer state, a batch of \d+\), "
                     r"more than the 1.0 GiB of available memory \(test\); use smaller --hidden", line), line


def test_memory_error_and_bugs_are_one_line_with_status_1(capsys, monkeypatch):
    def out_of_memory(args):
        raise MemoryError("Unable to allocate 37.3 GiB")
    monkeypatch.setattr(cli, "info", out_of_memory)
    assert "xpnn: error: out of memory (Unable to allocate 37.3 GiB)" in one_error_line(capsys, "info", code=1)

    def bug(args):
        raise KeyError("oops")
    monkeypatch.setattr(cli, "info", bug)
    monkeypatch.delenv("XPNN_TRACEBACK", raising=False)
    assert "xpnn: internal error: KeyError: 'oops' (a bug in xpnn" in one_error_line(capsys, "info", code=1)


@pytest.mark.parametrize("argv", [["info"], ["train", "--help"]])
def test_a_closed_pipe_ends_quietly(argv):
    """``xpnn info | head -1``: the reader is gone before xpnn writes; status 1, nothing on stderr."""
    process = subprocess.Popen([sys.executable, "-m", "xpnn", *argv], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=ENV, cwd=ROOT)
    process.stdout.close()
    err = process.stderr.read().decode()
    code = process.wait(timeout=120)
    assert err == "" and code == (1 if argv == ["info"] else 0), (code, err)  # argparse swallows its own EPIPE


# ---------------------------------------------------------------- 6. predict with any model file

def test_predict_with_a_model_saved_from_python_and_with_a_checkpoint(savetxt_csv, tmp_path, capsys):
    X = features()
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    model = xpnn.Model(xpnn.Dense(3, 8, activation="relu"), xpnn.Dense(8, 2))
    model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=30, verbose=0)
    path = str(tmp_path / "python.xpnn")
    model.save(path)
    raw = write_table(tmp_path / "raw.csv", ["a", "b", "c"], X.tolist())
    output = str(tmp_path / "out.csv")
    code, out, _ = run(capsys, "predict", "--model", path, "--data", raw, "--output", output, "--proba")
    assert code == 0 and out.startswith(f"wrote 300 predictions (prediction, proba_0, proba_1) to {output}")
    assert "without a sidecar" in out
    with open(output) as stream:
        rows = list(csv.reader(stream))
    assert np.mean([int(r[0]) == t for r, t in zip(rows[1:], y.tolist())]) > 0.8
    wide = write_table(tmp_path / "wide.csv", ["a", "b", "c", "d"], [[1, 2, 3, 4]])
    assert "takes 3 features and the file has 4 columns" in one_error_line(capsys, "predict", "--model", path, "--data", wide)

    cli_model = str(tmp_path / "cli.xpnn")
    assert run(capsys, "train", "--data", savetxt_csv, *FAST, "--quiet", "--save", cli_model)[0] == 0
    code, out, _ = run(capsys, "predict", "--model", cli_model + ".ckpt", "--data", savetxt_csv)
    assert code == 0 and set(out.split()[1:]) <= {"0", "1"}  # the checkpoint's sidecar names the classes


def test_predict_names_the_missing_file_the_user_gave(tmp_path, capsys):
    line = one_error_line(capsys, "predict", "--model", tmp_path / "gone.xpnn", "--data", "x.csv")
    assert line.endswith("gone.xpnn: no such file") and ".json" not in line


# ---------------------------------------------------------------- 7. input formats

@pytest.mark.parametrize("delimiter, option", [(";", []), ("\t", []), (";", ["--delimiter", ";"]),
                                               ("\t", ["--delimiter", "tab"]), (",", [])])
def test_delimiters_are_sniffed_or_given(tmp_path, capsys, delimiter, option):
    X = features(60)
    data = write_table(tmp_path / "d.csv", ["a", "b", "c", "y"], [[*x, int(x[0] > 0)] for x in X.tolist()], delimiter)
    model = str(tmp_path / "m.xpnn")
    code, out, _ = run(capsys, "train", "--data", data, *FAST, *option, "--save", model)
    assert code == 0 and "60 rows, 3 features" in out
    code, out, _ = run(capsys, "predict", "--model", model, "--data", data, *option)
    assert code == 0 and len(out.split()) == 61


def test_a_words_column_that_is_not_last_gets_a_target_hint(tmp_path, capsys):
    X = features(30)
    data = write_table(tmp_path / "cls.csv", ["species", "a", "b"],
                       [["setosa" if x[0] > 0 else "virginica", x[1], x[2]] for x in X.tolist()])
    line = one_error_line(capsys, "train", "--data", data)
    assert re.search(r"line 2, column 'species': '\w+' is not a number; the target was not given, so it is the "
                     r"last column 'b': if 'species' is the target, give --target species$", line), line
    code, out, _ = run(capsys, "train", "--data", data, "--target", "species", *FAST)
    assert code == 0 and "target 'species' (--target): 2 classes (setosa, virginica)" in out


@pytest.mark.parametrize("name", ["iris", "digits"])
def test_bundled_sets_by_name(name, tmp_path, capsys):
    model = str(tmp_path / "m.xpnn")
    code, out, _ = run(capsys, "train", "--data", name, *FAST, "--save", model)
    assert code == 0 and f"data: {name}: " in out
    code, out, _ = run(capsys, "predict", "--model", model, "--data", name)
    assert code == 0 and len(out.split()) == {"iris": 151, "digits": 1798}[name]
    assert "bundled iris need none" in one_error_line(capsys, "train", "--data", "iris", "--target", "x")


# ---------------------------------------------------------------- 8. help and reference

def test_every_option_has_a_help_line_and_train_help_explains_the_choices(capsys):
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command").choices
    for name, sub in [("xpnn", parser), *subparsers.items()]:
        for action in sub._actions:
            assert action.help, (name, action.option_strings)
    code, out, _ = run(capsys, "train", "--help")
    assert code == 0
    for text in ("examples:", "the data:", "the target:", "the task:", "defaults:", "--task", "--missing drop"):
        assert text in out, text


@pytest.mark.parametrize("env, reason", [({}, "default (XPNN_BACKEND is not set)"),
                                         ({"XPNN_BACKEND": "numpy"}, "XPNN_BACKEND=numpy")])
def test_info_says_default_when_nothing_was_asked(env, reason):
    environment = {k: v for k, v in ENV.items() if k != "XPNN_BACKEND"} | env
    result = subprocess.run([sys.executable, "-m", "xpnn", "info"], capture_output=True, text=True,
                            env=environment, cwd=ROOT, timeout=120)
    assert result.returncode == 0 and f"chosen because: {reason}\n" in result.stdout
    assert "asked for" not in result.stdout


def readme_section(heading):
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as stream:
        text = stream.read()
    return re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## )", text, re.S | re.M).group(1)


def test_the_readme_cli_reference_names_every_option():
    section = readme_section("The `xpnn` command")
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command").choices
    for name, sub in subparsers.items():
        for action in sub._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}" in section or f" {option} " in section, (name, option)


def test_the_readme_backend_example_runs_a_script_that_exists():
    section = readme_section("Choosing a backend")
    scripts = re.findall(r"python (\S+\.py)", section)
    assert scripts and all(os.path.exists(os.path.join(ROOT, s)) for s in scripts), scripts


def test_resume_from_another_folder_writes_the_model_beside_the_checkpoint(savetxt_csv, tmp_path, capsys, monkeypatch):
    (tmp_path / "runs").mkdir()
    monkeypatch.chdir(tmp_path)
    common = ["train", "--data", savetxt_csv, "--hidden", "8", "--quiet"]
    assert run(capsys, *common, "--epochs", "1", "--save", "runs/m.xpnn", "--checkpoint", "runs/c.ckpt")[0] == 0
    monkeypatch.chdir(tmp_path / "runs")
    code, out, _ = run(capsys, *common, "--epochs", "2", "--resume", "c.ckpt")
    assert code == 0 and "saved the resumed model to m.xpnn (" in out
    assert os.path.getmtime("m.xpnn") >= os.path.getmtime("c.ckpt") - 1


def test_available_memory_on_the_cpu_is_a_positive_byte_count():
    with xpnn.use_backend("numpy"):
        free, source = xpnn.backend.available_memory()
    assert isinstance(free, int) and free > 2 ** 20 and ("meminfo" in source or "physical" in source)
