"""``xpnn train --plot PATH`` (issue 14): the history figure as a PNG; a path that cannot be
written or a missing matplotlib is one line with exit status 2 before anything is read or
trained. The figure itself is tested in tests/test_plot.py; these tests do not depend on the
backend, so they run once."""

import sys

import numpy as np
import pytest

import xpnn

from .test_cli import run, write_csv

pytestmark = pytest.mark.once


@pytest.fixture
def small_csv(tmp_path):
    """60 samples, 2 features, the class the sign of the first."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2)).round(4)
    return write_csv(tmp_path / "small.csv", ["a", "b", "label"], [[*row, int(row[0] > 0)] for row in X.tolist()])


def refused(capsys, *argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert out == "", "it read the data or trained before refusing"
    return err.strip()


def test_train_saves_the_history_figure(tmp_path, capsys, small_csv):
    pytest.importorskip("matplotlib")
    target = tmp_path / "history.png"
    code, out, err = run(capsys, "train", "--data", small_csv, "--target", "label", "--epochs", "2", "--quiet",
                         "--plot", str(target))
    assert code == 0, err
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"saved the training history plot to {target}" in out


def test_a_plot_in_a_missing_folder_is_refused_before_training(tmp_path, capsys, small_csv):
    pytest.importorskip("matplotlib")
    target = tmp_path / "nodir" / "h.png"
    err = refused(capsys, "train", "--data", small_csv, "--target", "label", "--plot", str(target),
                  "--save", str(tmp_path / "m.xpnn"))
    assert err == f"xpnn: error: cannot write '{target}': folder '{target.parent}' does not exist"
    assert not (tmp_path / "m.xpnn").exists()


def test_a_plot_over_the_data_or_onto_a_folder_is_refused(tmp_path, capsys, small_csv):
    pytest.importorskip("matplotlib")
    err = refused(capsys, "train", "--data", small_csv, "--target", "label", "--plot", small_csv)
    assert f"--plot {small_csv} is the --data file" in err
    err = refused(capsys, "train", "--data", small_csv, "--target", "label", "--plot", str(tmp_path))
    assert f"--plot: path '{tmp_path}' is a folder" in err


def test_without_matplotlib_plot_gives_the_install_line_before_training(capsys, monkeypatch, small_csv):
    # as if never installed: an earlier test's submodules (matplotlib.figure) would import still
    for name in [name for name in sys.modules if name.startswith(("matplotlib.", "xpnn.plot"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    monkeypatch.delattr(xpnn, "plot", raising=False)
    err = refused(capsys, "train", "--data", small_csv, "--target", "label", "--plot", "h.png")
    assert err == 'xpnn: error: --plot needs matplotlib, which is not installed: pip install "xpnn[plot]"'


def test_an_empty_or_non_png_plot_path_is_refused_before_training(tmp_path, capsys, small_csv):
    pytest.importorskip("matplotlib")
    err = refused(capsys, "train", "--data", small_csv, "--target", "label", "--plot", "",
                  "--save", str(tmp_path / "m.xpnn"))
    assert err == "xpnn: error: --plot: path must name a file such as 'plot.png', got ''"
    err = refused(capsys, "train", "--data", small_csv, "--target", "label", "--plot", str(tmp_path / "h.txt"),
                  "--save", str(tmp_path / "m.xpnn"))
    assert "--plot: path must end in .png" in err
    assert not (tmp_path / "m.xpnn").exists()
