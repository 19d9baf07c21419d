"""Your own data from files: ``load_csv`` (a table with a named target column) and ``load_npz``.

Both return a ``Dataset`` of host arrays. Every problem is reported as an error that names the
file and, for a table, the line and the column, so a broken file is fixed in one look.
"""

from __future__ import annotations

import csv
import gzip
import math
import os

from .. import backend
from .dataset import Dataset


MISSING_MARKERS = ("", "na", "n/a", "nan", "-nan", "null", "none")  # compared lower-cased, stripped
MISSING_POLICIES = ("error", "drop")
SNIFFED_DELIMITERS = ",;\t"


class CellError(ValueError):
    """A cell that cannot be used: the message names the file, line and column; ``line`` and
    ``column`` (the column's name) are kept for callers that add a hint."""

    def __init__(self, message: str, line: int, column: str):
        super().__init__(message)
        self.line, self.column = line, column


def sniff_delimiter(sample: str, source: str, where: str = "load_csv") -> str:
    """The field separator of a table from its first lines: one of ``,`` ``;`` tab
    (``csv.Sniffer`` restricted to those); ``,`` when the sample has a single column."""
    lines = [line for line in sample.splitlines() if line.strip()][:20]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=SNIFFED_DELIMITERS).delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in SNIFFED_DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def load_csv(path, target, *, delimiter: str | None = ",", header: bool = True,
             missing: str = "error", return_X_y: bool = False):
    """A CSV table as a ``Dataset``: ``target`` is the column to predict, the others are features.

    - ``path``: a ``.csv`` file, or a gzip-compressed ``.csv.gz``.
    - ``target``: the target column's name (from the header) or its index (negative counts from
      the end: -1 is the last column). Without a header only an index will do.
    - ``delimiter``: the field separator (``","``, ``";"``, ``"\\t"``...); ``None`` sniffs it
      from the first lines among ``,`` ``;`` and tab.
    - ``header``: whether the first row names the columns; without one the columns are called
      ``column_0``, ``column_1``...

    ``X`` is float64 with ``feature_names`` from the header. ``y`` is int64 when every target cell
    is an integer literal (class labels: ``target_names`` are then the sorted distinct labels),
    float64 when the cells are numbers (regression: ``target_names`` is ``None``), and when the
    cells are words (``setosa``, ``spam``) they are coded 0, 1, ... in sorted order, with the words
    as ``target_names``. Blank lines are skipped; quoted fields follow the ``csv`` module's rules.
    ``target_name`` is the target column's name (from the header, or ``column_<i>``).

    Missing values: an empty cell or one of the usual markers (``NA``, ``N/A``, ``NaN``, ``nan``,
    ``null``, ``None``, any case) in any column is refused with its line and column when
    ``missing="error"`` (the default); ``missing="drop"`` skips those rows (the description says
    how many). A number that is not finite (``inf``, ``-inf``, ``1e999``) is always refused with
    its line and column: it is not a missing value and no policy hides it.

    Raises FileNotFoundError for a missing file and ValueError naming the file and the problem:
    an empty file, an unknown target column (the message lists the columns), a non-numeric,
    missing or non-finite cell (line and column named; a ``CellError``), or a row with the wrong
    number of fields.
    """
    where = "load_csv"
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        raise ValueError(f"{where}: delimiter must be a single character, got {delimiter!r} (None sniffs it)")
    if missing not in MISSING_POLICIES:
        raise ValueError(f"{where}: missing must be one of {', '.join(map(repr, MISSING_POLICIES))}, got {missing!r}")
    if isinstance(target, bool) or not isinstance(target, (str, int)):
        raise ValueError(
            f"{where}: target must be a column name (str) or index (int), got {target!r}"
        )
    source = os.fspath(path)
    if not os.path.exists(source):
        raise FileNotFoundError(f"{where}: {source}: no such file")
    opener = gzip.open if source.endswith(".gz") else open
    try:
        with opener(source, "rt", encoding="utf-8-sig", newline="") as stream:
            if delimiter is None:
                delimiter = sniff_delimiter(stream.read(64 * 1024), source, where)
                stream.seek(0)
            dataset = read_table(stream, source, target, delimiter=delimiter, header=header,
                                 where=where, missing=missing)
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as error:
        raise ValueError(
            f"{where}: {source}: not a readable text table ({type(error).__name__}: {error})"
        ) from None
    except IsADirectoryError:
        raise ValueError(f"{where}: {source}: is a directory, not a file") from None
    return (dataset.X, dataset.y) if return_X_y else dataset


def read_table(stream, source: str, target, *, delimiter: str = ",", header: bool = True,
               where: str = "load_csv", name: str | None = None, missing: str = "error") -> Dataset:
    """The parsing behind ``load_csv``, for any text stream (the bundled data use it too)."""
    rows = csv.reader(stream, delimiter=delimiter)
    names = None
    if header:
        for cells in rows:
            if any(cell.strip() for cell in cells):
                names = [cell.strip() for cell in cells]
                break
        if names is None:
            raise ValueError(f"{where}: {source}: the file is empty (no header, no rows)")
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            # columns are found by name (a target, predict's columns): a repeated one is ambiguous
            first = repeated[0]
            places = [str(i + 1) for i, name in enumerate(names) if name == first]
            raise ValueError(f"{where}: {source}: the header names column {first!r} more than once "
                             f"(columns {', '.join(places)}); give every column its own name")
    records, lines = [], []
    for cells in rows:
        if not any(cell.strip() for cell in cells):
            continue  # blank line
        if names is None:
            names = [f"column_{i}" for i in range(len(cells))]
        if len(cells) != len(names):
            expected = "as in the header" if header else "as on the first row"
            raise ValueError(
                f"{where}: {source}: line {rows.line_num} has {len(cells)} fields, expected "
                f"{len(names)} ({expected})"
            )
        records.append(cells)
        lines.append(rows.line_num)
    if names is None:
        raise ValueError(f"{where}: {source}: the file is empty (no rows)")
    if not records:
        raise ValueError(f"{where}: {source}: the header is there but there are no data rows")
    column = _target_index(names, target, header, source, where)
    if len(names) < 2:
        raise ValueError(
            f"{where}: {source}: there is only the target column {names[column]!r}; "
            "at least one feature column is needed"
        )
    feature_columns = [i for i in range(len(names)) if i != column]
    dropped = 0
    if missing == "drop":
        kept = [(cells, line) for cells, line in zip(records, lines)
                if not any(is_missing(cell) for cell in cells)]
        dropped = len(records) - len(kept)
        if not kept:
            raise ValueError(f"{where}: {source}: every one of the {len(records)} rows has a missing "
                             "value; missing='drop' leaves nothing")
        records, lines = [cells for cells, _ in kept], [line for _, line in kept]
    X = [[number_cell(cells[i], names[i], line, source, where) for i in feature_columns]
         for cells, line in zip(records, lines)]
    y, target_names = _target_values([cells[column] for cells in records], lines, names[column],
                                     source, where)
    xp = backend.host_namespace()
    return Dataset(
        name=name or os.path.basename(source),
        X=xp.asarray(X, dtype=xp.float64),
        y=y,
        feature_names=[names[i] for i in feature_columns],
        target_names=target_names,
        description=f"Loaded from {source}: {len(records)} rows, target column {names[column]!r}"
                    + (f"; {dropped} rows with a missing value dropped." if dropped else "."),
        target_name=names[column],
    )


def _target_index(names, target, header, source, where) -> int:
    if isinstance(target, int):
        if not -len(names) <= target < len(names):
            raise ValueError(
                f"{where}: {source}: target column index {target} is out of range; the file has "
                f"{len(names)} columns (0 to {len(names) - 1}, or -1 for the last)"
            )
        return target % len(names)
    if not header:
        raise ValueError(
            f"{where}: {source}: target={target!r} is a column name but header=False; "
            "give the column's index instead"
        )
    matches = [i for i, column in enumerate(names) if column == target]
    if not matches:
        raise ValueError(
            f"{where}: {source}: no column named {target!r}; the columns are: "
            + ", ".join(repr(column) for column in names)
        )
    return matches[0]  # one: read_table refuses a header that repeats a name


def is_missing(cell: str) -> bool:
    """An empty cell or one of ``MISSING_MARKERS`` (any case)."""
    return cell.strip().lower() in MISSING_MARKERS


def number_cell(cell: str, column: str, line: int, source: str, where: str, *,
            what: str = "value") -> float:
    """A cell as a finite float, or a CellError naming the file, line and column."""
    text = cell.strip()
    if is_missing(text):
        problem = (f"an empty cell (missing {what})" if not text
                   else f"{text!r} marks a missing {what}")
        raise CellError(f"{where}: {source}: line {line}, column {column!r}: {problem}; fill it in, "
                        "or drop such rows (missing='drop')", line, column)
    try:
        value = float(text)
    except ValueError:
        raise CellError(f"{where}: {source}: line {line}, column {column!r}: {cell!r} is not a number",
                        line, column) from None
    if not math.isfinite(value):
        raise CellError(f"{where}: {source}: line {line}, column {column!r}: {text!r} is not a finite "
                        "number", line, column)
    return value


def _integer_or_none(text: str):
    try:
        return int(text)
    except ValueError:
        return None


def _float_or_none(text: str):
    try:
        return float(text)
    except ValueError:
        return None


def _target_values(cells, lines, column, source, where):
    """(y, target_names): integer labels, float values, or words coded 0..k-1."""
    xp = backend.host_namespace()
    texts = [cell.strip() for cell in cells]
    for text, line in zip(texts, lines):
        if is_missing(text):
            number_cell(text, column, line, source, where, what="target")  # raises, naming the cell
    integers = [_integer_or_none(text) for text in texts]
    # beyond int64 a whole number is a quantity, read as a float (10**30 ended in OverflowError)
    if all(value is not None and -2**63 <= value < 2**63 for value in integers):
        y = xp.asarray(integers, dtype=xp.int64)
        return y, xp.unique_values(y)
    floats = [_float_or_none(text) for text in texts]
    numeric = [value is not None for value in floats]
    if all(numeric):
        for value, text, line in zip(floats, texts, lines):
            if not math.isfinite(value):
                number_cell(text, column, line, source, where, what="target")  # raises
        return xp.asarray(floats, dtype=xp.float64), None
    if any(numeric):  # a typo in a numeric column, or a number among class words
        odd = numeric.index(False) if sum(numeric) > len(numeric) // 2 else numeric.index(True)
        raise ValueError(
            f"{where}: {source}: line {lines[odd]}, column {column!r}: {cells[odd]!r} mixes with "
            "the rest of the target column (numbers and words together); fix the cell"
        )
    classes = sorted(set(texts))
    code = {word: i for i, word in enumerate(classes)}
    return xp.asarray([code[text] for text in texts], dtype=xp.int64), xp.asarray(classes)


def load_npz(path, X: str = "X", y: str | None = "y", *, return_X_y: bool = False):
    """Arrays saved with ``numpy.savez`` as a ``Dataset``; nothing is ever unpickled.

    ``X`` and ``y`` name the arrays in the archive to use (``y=None``: features only). Optional
    string arrays named ``feature_names`` and ``target_names`` in the archive are picked up.
    Arrays keep the dtype they were saved with.

    Raises FileNotFoundError for a missing file and ValueError naming the file for a missing
    array (the message lists those the archive holds), an unreadable or corrupted file, arrays
    of Python objects, or X and y of different lengths.
    """
    where = "load_npz"
    for arg, key in (("X", X), ("y", y)):
        if not (isinstance(key, str) or (arg == "y" and key is None)):
            raise ValueError(f"{where}: {arg} must be the name of an array in the archive, got {key!r}")
    source = os.fspath(path)
    if not os.path.exists(source):
        raise FileNotFoundError(f"{where}: {source}: no such file")
    try:
        arrays = backend.read_npz(source, keys=[X] + ([y] if y is not None else []),
                                  optional=("feature_names", "target_names"))
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    features, targets = arrays[X], arrays.get(y)
    if features.ndim == 0:
        raise ValueError(f"{where}: {source}: array {X!r} is a scalar, not a (samples, features) array")
    if targets is not None and (targets.ndim == 0 or targets.shape[0] != features.shape[0]):
        got = "a scalar" if targets.ndim == 0 else f"{targets.shape[0]} samples"
        raise ValueError(
            f"{where}: {source}: array {y!r} has {got} but {X!r} has {features.shape[0]}; "
            "they must have the same length"
        )
    feature_names = arrays.get("feature_names")
    if feature_names is not None:
        feature_names = [str(item) for item in feature_names.tolist()]
    elif features.ndim == 2:
        feature_names = [f"{X}_{i}" for i in range(features.shape[1])]
    if return_X_y:
        return features, targets
    return Dataset(
        name=os.path.basename(source), X=features, y=targets, feature_names=feature_names or [],
        target_names=arrays.get("target_names"),
        description=f"Loaded from {source}: arrays {X!r}" + (f" and {y!r}." if y is not None else "."),
    )


__all__ = ["CellError", "MISSING_MARKERS", "is_missing", "load_csv", "number_cell", "load_npz", "read_table", "sniff_delimiter"]
