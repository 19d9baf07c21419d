"""Issue 18, items 1 and 12: the command never writes over a file it reads, however the path
is spelled (symlinks, ./, ..), a read-only destination is not replaced, and a damaged sidecar
is a named error, not an IndexError or KeyError."""

import json
import os

import numpy as np
import pytest

from xpnn.cli import main

from .test_cli import run, write_csv


@pytest.fixture
def trained(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    write_csv(tmp_path / "d.csv", ["a", "b", "c", "label"],
              [[*row, int(row[0] > 0)] for row in X.round(4).tolist()])
    code, _, err = run(capsys, "train", "--data", "d.csv", "--target", "label", "--epochs", "2", "--save", "m.xpnn",
                       "--quiet")
    assert code == 0, err
    return tmp_path


def _refused(capsys, *argv):
    code, out, err = run(capsys, *argv)
    assert code != 0 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("output", ["m.xpnn", "./m.xpnn", "sub/../m.xpnn", "link-to-model", "d.csv", "./d.csv",
                                    "m.xpnn.json"])
def test_predict_never_writes_over_what_it_reads(trained, capsys, output):
    (trained / "sub").mkdir()
    os.symlink(trained / "m.xpnn", trained / "link-to-model")
    before = {name: (trained / name).read_bytes() for name in ("m.xpnn", "d.csv", "m.xpnn.json")}
    err = _refused(capsys, "predict", "--model", "m.xpnn", "--data", "d.csv", "--output", output)
    assert f"--output {output} is the" in err and "give another path" in err
    assert before == {name: (trained / name).read_bytes() for name in before}


@pytest.mark.parametrize("argv, message", [
    (["--save", "d.csv"], "--save d.csv is the --data file d.csv"),
    (["--save", "./d.csv"], "--save ./d.csv is the --data file"),
    (["--save", "m2.xpnn", "--checkpoint", "d.csv"], "--checkpoint d.csv is the --data file"),
    (["--save", "m2.xpnn", "--checkpoint", "m2.xpnn"], "--save m2.xpnn and --checkpoint m2.xpnn are the same file"),
    (["--save", "d.csv.json"], None),  # not an input: allowed (the sidecar of a model named d.csv.json)
])
def test_train_never_writes_over_its_data(trained, capsys, argv, message):
    before = (trained / "d.csv").read_bytes()
    if message is None:
        code, _, err = run(capsys, "train", "--data", "d.csv", "--target", "label", "--epochs", "1", "--quiet", *argv)
        assert code == 0, err
        return
    err = _refused(capsys, "train", "--data", "d.csv", "--target", "label", "--epochs", "1", "--quiet", *argv)
    assert message in err
    assert (trained / "d.csv").read_bytes() == before


def test_a_read_only_output_is_not_replaced(trained, capsys):
    (trained / "out.csv").write_text("kept\n")
    os.chmod(trained / "out.csv", 0o444)
    err = _refused(capsys, "predict", "--model", "m.xpnn", "--data", "d.csv", "--output", "out.csv")
    assert "out.csv" in err and "read-only" in err
    assert (trained / "out.csv").read_text() == "kept\n"


def test_predict_output_is_written(trained, capsys):
    code, out, err = run(capsys, "predict", "--model", "m.xpnn", "--data", "d.csv", "--output", "p.csv")
    assert code == 0, err
    assert (trained / "p.csv").read_text().startswith("prediction\n") and "wrote 60 predictions" in out
    assert main is not None


@pytest.mark.parametrize("change, message", [
    ({"classes": []}, "classes must list the class names, at least 2"),
    ({"classes": ["a", "b", "c"]}, "it names 3 classes but the model has 2 outputs"),
    ({"classes": None}, "classes must list the class names"),
    ({"feature_mean": [0]}, "feature_mean must be 3 finite numbers, one per feature"),
    ({"feature_std": "x"}, "feature_std must be 3 finite numbers"),
    ({"feature_std": [1, 0, 1]}, "feature_std must be positive"),
    ({"feature_names": [1, 2, 3]}, "feature_names must be a non-empty list of column names"),
    ({"task": "nonsense"}, "task must be 'classification' or 'regression'"),
    ({"task": "regression", "target_mean": "a"}, "target_mean must be a finite number"),
    ({"feature_mean": [10**400, 0, 0]}, "feature_mean must be 3 finite numbers"),  # an OverflowError before
])
def test_a_damaged_sidecar_is_named(trained, capsys, change, message):
    path = trained / "m.xpnn.json"
    meta = json.loads(path.read_text())
    meta.update(change)
    path.write_text(json.dumps(meta))
    code, _, err = run(capsys, "predict", "--model", "m.xpnn", "--data", "d.csv")
    assert code != 0 and "Traceback" not in err and "internal error" not in err
    assert f"m.xpnn.json: corrupted sidecar: {message}" in err


def test_an_output_in_a_missing_folder_is_named(trained, capsys):
    """The error named the library's temporary file inside the missing folder."""
    code, _, err = run(capsys, "predict", "--model", "m.xpnn", "--data", "d.csv", "--output", "nodir/out.csv")
    assert code != 0 and "cannot write 'nodir/out.csv': folder" in err and "does not exist" in err
    assert ".xpnn-" not in err
