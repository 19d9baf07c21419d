"""Your own data from files: ``load_csv`` (a table with a named target column) and ``load_npz``.

Both return a ``Dataset`` of host arrays. Every problem is reported as an error that names the
file and, for a table, the line and the column, so a broken file is fixed in one look.
"""

from __future__ import annotations

import csv
import gzip
import os

from .. import backend
from .dataset import Dataset


def load_csv(path, target, *, delimiter: str = ",", header: bool = True, return_X_y: bool = False):
    """A CSV table as a ``Dataset``: ``target`` is the column to predict, the others are features.

    - ``path``: a ``.csv`` file, or a gzip-compressed ``.csv.gz``.
    - ``target``: the target column's name (from the header) or its index (negative counts from
      the end: -1 is the last column). Without a header only an index will do.
    - ``delimiter``: the field separator (``","``, ``";"``, ``"\\t"``...).
    - ``header``: whether the first row names the columns; without one the columns are called
      ``column_0``, ``column_1``...

    ``X`` is float64 with ``feature_names`` from the header. ``y`` is int64 when every target cell
    is an integer literal (class labels: ``target_names`` are then the sorted distinct labels),
    float64 when the cells are numbers (regression: ``target_names`` is ``None``), and when the
    cells are words (``setosa``, ``spam``) they are coded 0, 1, ... in sorted order, with the words
    as ``target_names``. Blank lines are skipped; quoted fields follow the ``csv`` module's rules;
    ``nan`` and ``inf`` cells are read as such (``fit`` refuses them, naming the sample).

    Raises FileNotFoundError for a missing file and ValueError naming the file and the problem:
    an empty file, an unknown target column (the message lists the columns), a non-numeric or
    empty feature cell (line and column named), or a row with the wrong number of fields.
    """
    where = "load_csv"
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ValueError(f"{where}: delimiter must be a single character, got {delimiter!r}")
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
            dataset = read_table(stream, source, target, delimiter=delimiter, header=header,
                                 where=where)
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as error:
        raise ValueError(
            f"{where}: {source}: not a readable text table ({type(error).__name__}: {error})"
        ) from None
    except IsADirectoryError:
        raise ValueError(f"{where}: {source}: is a directory, not a file") from None
    return (dataset.X, dataset.y) if return_X_y else dataset


def read_table(stream, source: str, target, *, delimiter: str = ",", header: bool = True,
               where: str = "load_csv", name: str | None = None) -> Dataset:
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
    X = [[_number(cells[i], names[i], line, source, where) for i in feature_columns]
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
        description=f"Loaded from {source}: {len(records)} rows, target column {names[column]!r}.",
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
    if len(matches) > 1:
        raise ValueError(
            f"{where}: {source}: {len(matches)} columns are named {target!r} (columns "
            f"{', '.join(map(str, matches))}); give the index of the one you mean"
        )
    return matches[0]


def _number(cell: str, column: str, line: int, source: str, where: str) -> float:
    text = cell.strip()
    try:
        return float(text)
    except ValueError:
        problem = "an empty cell (missing value)" if not text else f"{cell!r} is not a number"
        raise ValueError(f"{where}: {source}: line {line}, column {column!r}: {problem}") from None


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
        if not text:
            raise ValueError(
                f"{where}: {source}: line {line}, column {column!r}: an empty cell (missing target)"
            )
    integers = [_integer_or_none(text) for text in texts]
    if all(value is not None for value in integers):
        y = xp.asarray(integers, dtype=xp.int64)
        return y, xp.unique_values(y)
    floats = [_float_or_none(text) for text in texts]
    numeric = [value is not None for value in floats]
    if all(numeric):
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


__all__ = ["load_csv", "load_npz", "read_table"]
