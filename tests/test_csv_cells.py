"""Issue 16, items 3 and 7, at the library's door: ``load_csv`` refuses missing-value markers and
non-finite numbers with line and column (or drops rows with missing values), sniffs the
separator, and names the target column."""

import numpy as np
import pytest

from xpnn.datasets import load_csv
from xpnn.datasets.files import CellError, sniff_delimiter


def write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize("cell", ["", " ", "NA", "na", "N/A", "NaN", "nan", "-nan", "null", "NULL", "None"])
@pytest.mark.parametrize("column", ["b", "t"])
def test_missing_markers_are_refused_with_line_and_column(tmp_path, cell, column):
    rows = [["1", "2", "0"], ["3", "4", "1"], ["5", "6", "0"]]
    rows[1]["abt".index(column)] = cell
    path = write(tmp_path / "m.csv", "a,b,t\n" + "\n".join(",".join(r) for r in rows) + "\n")
    with pytest.raises(CellError, match=rf"m\.csv: line 3, column '{column}': .*missing (value|target)\)?; fill it in, "
                                        r"or drop such rows \(missing='drop'\)$") as caught:
        load_csv(path, "t")
    assert caught.value.line == 3 and caught.value.column == column
    dropped = load_csv(path, "t", missing="drop")
    assert dropped.X.tolist() == [[1.0, 2.0], [5.0, 6.0]] and "1 rows with a missing value dropped" in dropped.description


@pytest.mark.parametrize("cell", ["inf", "-inf", "Infinity", "1e999"])
@pytest.mark.parametrize("column", ["b", "t"])
def test_non_finite_numbers_are_refused_whatever_the_policy(tmp_path, cell, column):
    rows = [["1", "2", "0.5"], ["3", "4", "1.5"]]
    rows[1]["abt".index(column)] = cell
    path = write(tmp_path / "f.csv", "a,b,t\n" + "\n".join(",".join(r) for r in rows) + "\n")
    for missing in ("error", "drop"):
        with pytest.raises(CellError, match=rf"line 3, column '{column}': '{cell}' is not a finite number"):
            load_csv(path, "t", missing=missing)


def test_bad_policy_and_all_rows_dropped(tmp_path):
    path = write(tmp_path / "x.csv", "a,t\nNA,1\n2,\n")
    with pytest.raises(ValueError, match=r"missing must be one of 'error', 'drop', got 'fill'"):
        load_csv(path, "t", missing="fill")
    with pytest.raises(ValueError, match=r"every one of the 2 rows has a missing value"):
        load_csv(path, "t", missing="drop")


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_the_separator_is_sniffed(tmp_path, delimiter):
    text = delimiter.join(["a", "b", "t"]) + "\n" + "\n".join(delimiter.join([f"{i}.5", "2", str(i % 2)]) for i in range(6))
    path = write(tmp_path / "s.csv", text + "\n")
    assert sniff_delimiter(text, "s.csv") == delimiter
    data = load_csv(path, "t", delimiter=None)
    assert data.feature_names == ["a", "b"] and data.X.shape == (6, 2) and data.target_name == "t"
    assert sniff_delimiter("a\n1\n", "one.csv") == ","


def test_target_name_is_the_columns_name(tmp_path):
    path = write(tmp_path / "n.csv", "x,price\n1,2.5\n2,3.5\n")
    assert load_csv(path, -1).target_name == "price"
    assert np.array_equal(load_csv(path, -1).y, [2.5, 3.5])


def test_a_repeated_column_name_is_refused(tmp_path):
    """Issue 18, item 9: with 'a,a,b,label' predict read the first 'a' twice (0.975 accuracy
    at train time, 0.45 at predict)."""
    path = write(tmp_path / "d.csv", "a,a,b,label\n1,2,3,0\n4,5,6,1\n")
    with pytest.raises(ValueError, match=r"d\.csv: the header names column 'a' more than once \(columns 1, 2\); "
                                         "give every column its own name"):
        load_csv(path, "label")


def test_the_command_refuses_it_too(tmp_path):
    import subprocess
    import sys

    path = write(tmp_path / "d.csv", "a,a,b,label\n" + "".join(f"{i},{i % 3},{i % 5},{i % 2}\n" for i in range(20)))
    done = subprocess.run([sys.executable, "-m", "xpnn", "train", "--data", str(path), "--target", "label",
                           "--epochs", "1", "--quiet"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode != 0 and "names column 'a' more than once" in done.stderr
    assert "Traceback" not in done.stderr


def test_whole_numbers_beyond_int64_are_quantities(tmp_path):
    """Issue 18, item 12: an integer target of 10**30 ended in OverflowError."""
    path = write(tmp_path / "big.csv", "a,t\n" + "".join(f"{i},{10**30 + i}\n" for i in range(5)))
    data = load_csv(path, "t")
    assert data.y.dtype == np.float64 and data.y[0] == 1e30 and data.target_names is None
