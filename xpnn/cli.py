"""The ``xpnn`` command: ``train``, ``predict`` and ``info`` on top of the library's front floor.

``xpnn train --save m.xpnn`` writes ``m.xpnn`` (``Model.save``: architecture and weights,
``xpnn.load`` reads it) and ``m.xpnn.ckpt`` (a full training checkpoint rewritten every epoch;
``xpnn train --resume m.xpnn.ckpt`` continues the run with the same data, seed and options and
then writes ``m.xpnn`` again, or ``--save``'s path). Next to each file it writes a sidecar
``<file>.json``: the model sees standardized features, so the sidecar keeps what ``predict``
needs to feed it raw data and name its outputs::

    {"format": "xpnn.cli", "version": 1, "task": "classification" | "regression",
     "task_reason": "...", "feature_names": [...], "feature_mean": [...], "feature_std": [...],
     "target": "species", "classes": [...],            # classification: label of each output
     "target_mean": 0.0, "target_std": 1.0,            # regression: the target was scaled too
     "model": "m.xpnn", "checkpoint": "m.xpnn.ckpt",   # where this run writes (null: nowhere)
     "model_from_checkpoint": "m.xpnn"}                # the model's path from the checkpoint's folder

``predict`` reads any model file xpnn writes (``Model.save``, a checkpoint); without a sidecar
it feeds the columns as they are and names the outputs by the loss the model remembers.

Bad input (a missing file, an unknown column, a non-numeric or missing cell, an unknown
activation, an unusable backend, a model too large for the memory...) ends with one line
``xpnn: error: ...`` on stderr and exit status 2; the messages name the file, line and column.
Running out of memory anyway, or any unexpected error, is one line too with exit status 1
(``XPNN_TRACEBACK=1`` shows the traceback); a closed pipe (``xpnn info | head -1``) ends
quietly with status 1, as the Python documentation recommends (signal module, "Note on
SIGPIPE").
"""

from __future__ import annotations

import argparse
import csv
import gzip
import importlib.metadata
import json
import math
import os
import platform
import re
import shlex
import sys
import warnings

import xpnn
from xpnn import activations, backend, optimizers
from xpnn.datasets import load_csv, load_digits, load_iris, load_npz
from xpnn.datasets.files import CellError, number_cell, sniff_delimiter
from xpnn.training.data import input_width
from xpnn.utils.validation import byte_size, check_int, check_number

SIDECAR_FORMAT, SIDECAR_VERSION = "xpnn.cli", 1
BUNDLED = {"iris": load_iris, "digits": load_digits}  # --data NAME when no file of that name exists
TASKS = ("auto", "classification", "regression")
AUTO_MAX_CLASSES = 20  # task auto: whole numbers with more distinct values are a quantity...
AUTO_SAMPLES_PER_CLASS = 5  # ...and so are those with fewer samples per distinct value than this
PLOT_INSTALL = 'pip install "xpnn[plot]"'  # xpnn.plot.INSTALL, which cannot be imported without matplotlib
DELIMITERS = {",": ",", ";": ";", "tab": "\t", "\\t": "\t", "\t": "\t", "|": "|", " ": " ", "space": " "}

TRAIN_EPILOG = f"""\
examples:
  xpnn train                                         the bundled digits, default MLP
  xpnn train --data iris --save iris.xpnn            the bundled Iris
  xpnn train --data iris --plot history.png          and a figure of its loss and accuracy per epoch
  xpnn train --data my.csv --target label --hidden 128,64 --epochs 50 --save m.xpnn
  xpnn train --data my.csv --target price --task regression --missing drop
  xpnn train --data my.csv --resume m.xpnn.ckpt      continue; writes m.xpnn again

the data: --data is a .csv/.csv.gz table with a header row (fields separated by , ; or tab,
  sniffed unless --delimiter says), a .npz archive (arrays X and y), or iris / digits for the
  bundled sets. Missing values (an empty cell, NA, N/A, NaN, nan, null, None) are refused with
  their line and column, or skipped with --missing drop; inf is always refused.
the target: --target names the column (or its index); left out, it is the last column and
  train says so. The other columns are the features; they are standardized with the training
  part's mean and standard deviation, and the sidecar keeps those for predict.
the task: --task auto (the default) picks classification when the target holds words, or whole
  numbers (3 or 3.0) with at most {AUTO_MAX_CLASSES} distinct values and at least {AUTO_SAMPLES_PER_CLASS} samples per value
  (2 values are always classes); otherwise regression. train prints the choice and why before
  training; --task classification or --task regression overrides it.
defaults: an MLP with hidden widths 128,64 and relu, Adam (lr 1e-3), 30 epochs at most with
  early stopping on 10% of the training part (patience 5), 20% held out for the test; a
  classifier is trained with cross-entropy and reports accuracy, a regressor with MSE on the
  standardized target and reports RMSE, MAE and R2 in the target's own units.
"""


class UsageError(Exception):
    """Bad input: reported on one line with exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print the whole usage and call sys.exit
        raise UsageError(f"{self.prog}: error: {message} (see {self.prog} --help)")


# ---------------------------------------------------------------- option types

def _number(kind, low, *, strict_low=False, high=None):
    """An argparse type: text parsed as ``kind`` and checked by the library's validators."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        try:
            if kind is int:
                return check_int(value, "the value", "option", minimum=low + bool(strict_low))
            return check_number(value, "the value", "option", low=low, low_open=strict_low, high=high, high_open=True)
        except ValueError as error:  # "option: the value must be > 0, got 0.0" -> "'0' must be > 0"
            rule = str(error).split("the value ", 1)[1].rsplit(", got ", 1)[0]
            raise argparse.ArgumentTypeError(f"{text!r} {rule}") from None
    return parse


def _hidden(text):
    """'128,64' -> [128, 64]; 'none' -> [] (a linear model); anything else is refused."""
    if text.strip().lower() == "none":
        return []
    parts = [part.strip() for part in text.split(",")]
    example = "layer widths > 0 separated by commas, e.g. 128,64 (or 'none' for a linear model)"
    if not text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is empty: give {example}")
    for position, part in enumerate(parts, 1):
        if not part:
            raise argparse.ArgumentTypeError(f"{text!r}: width {position} of {len(parts)} is empty: give {example}")
        if not (part.isascii() and part.isdigit() and int(part) > 0):
            raise argparse.ArgumentTypeError(f"{text!r}: width {position} ({part!r}) is not an integer > 0: give {example}")
    return [int(part) for part in parts]


def _delimiter(text):
    if text in DELIMITERS:
        return DELIMITERS[text]
    if len(text) == 1:
        return text
    raise argparse.ArgumentTypeError(f"{text!r} must be one character, or 'tab' (default: sniffed among , ; tab)")


def build_parser() -> Parser:
    parser = Parser(prog="xpnn", description="Train and use xpnn neural networks from the shell.")
    parser.add_argument("--version", action="version", version=f"xpnn {xpnn.__version__}",
                        help="print the version and exit")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser,
                                     help="xpnn COMMAND --help shows a command's options")

    train = commands.add_parser("train", help="train an MLP (default: on the bundled digits)",
                                description="Train an MLP classifier or regressor on a table.",
                                epilog=TRAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("--data", help="a .csv/.csv.gz table, a .npz archive, or iris / digits "
                                      "(the bundled sets, unless a file has that name; default: digits)")
    train.add_argument("--target", help="CSV: the target column's name or index (default: the last "
                                        "column); .npz: the target array's name (default: y)")
    train.add_argument("--task", choices=TASKS, default="auto",
                       help="classification, regression, or auto: chosen from the target as below (default auto)")
    train.add_argument("--delimiter", type=_delimiter, metavar="CHAR",
                       help="CSV field separator: , ; tab ... (default: sniffed among , ; tab)")
    train.add_argument("--missing", choices=("error", "drop"), default="error",
                       help="rows with a missing value: refuse them, naming line and column, or "
                            "drop them (default error)")
    train.add_argument("--hidden", type=_hidden, default=[128, 64],
                       help="hidden widths, comma-separated, or none for a linear model (default 128,64)")
    train.add_argument("--activation", default="relu", help="hidden activation (default relu)")
    train.add_argument("--optimizer", default="adam", help="sgd, rmsprop, adam or adamw (default adam)")
    train.add_argument("--lr", type=_number(float, 0, strict_low=True), help="learning rate (default: the optimizer's, 1e-3 for adam)")
    train.add_argument("--epochs", type=_number(int, 1), default=30, help="at most this many epochs (default 30)")
    train.add_argument("--batch-size", type=_number(int, 1), default=64, help="samples per step (default 64)")
    train.add_argument("--test-fraction", type=_number(float, 0, strict_low=True, high=1), default=0.2,
                       help="held out for the final test (default 0.2)")
    train.add_argument("--validation-split", type=_number(float, 0, high=1), default=0.1,
                       help="of the training part, for early stopping; 0 turns it off (default 0.1)")
    train.add_argument("--patience", type=_number(int, 0), default=5, help="early-stopping patience (default 5)")
    train.add_argument("--seed", type=int, default=0, help="weights, split and shuffling (default 0)")
    train.add_argument("--backend", help="numpy, cupy, array_api_strict or auto (default: $XPNN_BACKEND or numpy)")
    train.add_argument("--save", metavar="PATH", help="write the model to PATH (+ PATH.json) and a checkpoint "
                                                      "to PATH.ckpt (+ PATH.ckpt.json)")
    train.add_argument("--checkpoint", metavar="PATH", help="rewrite a training checkpoint here every epoch "
                                                            "(default with --save: PATH.ckpt)")
    train.add_argument("--resume", metavar="PATH",
                       help="continue from a checkpoint (and keep updating it); the model is then written "
                            "to --save, else to the model path of the run that wrote the checkpoint, "
                            "else to the checkpoint's name without .ckpt (run.ckpt -> run.xpnn)")
    train.add_argument("--plot", metavar="PATH", help="save the loss and metrics per epoch, training vs "
                                                      f"validation, as a PNG figure at PATH (needs matplotlib: {PLOT_INSTALL})")
    train.add_argument("--quiet", action="store_true", help="print only the final result")

    predict = commands.add_parser(
        "predict", help="predict with a model file xpnn wrote (xpnn train --save, Model.save, a checkpoint)",
        description="Predict with a model file; its sidecar (MODEL.json), when present, supplies the "
                    "feature columns, their scaling and the class names.")
    predict.add_argument("--model", required=True, metavar="PATH",
                         help="a model file (xpnn train --save, Model.save) or a checkpoint (.ckpt)")
    predict.add_argument("--data", required=True,
                         help="a .csv/.csv.gz table with the model's feature columns, a .npz with X, or iris / digits")
    predict.add_argument("--delimiter", type=_delimiter, metavar="CHAR",
                         help="CSV field separator (default: sniffed among , ; tab)")
    predict.add_argument("--output", help="CSV file to write (default: standard output)")
    predict.add_argument("--proba", action="store_true", help="also write each class's probability (classifiers only)")
    predict.add_argument("--backend", help="as for train")

    commands.add_parser("info", help="xpnn version, backends, their versions and devices",
                        description="The xpnn version, every backend's status and devices, installed packages.")
    return parser


# ---------------------------------------------------------------- reading data

def last_column(path, delimiter):
    """The name of a CSV table's last column (for the hint when --target is left out)."""
    try:
        with _open_text(path) as stream:
            sample = stream.read(64 * 1024)
        first = next(line for line in sample.splitlines() if line.strip())
        return next(csv.reader([first], delimiter=delimiter or sniff_delimiter(sample, path)))[-1].strip()
    except (OSError, StopIteration, UnicodeDecodeError, EOFError, csv.Error):
        return None


def _open_text(path):
    return (gzip.open if path.endswith(".gz") else open)(path, "rt", encoding="utf-8-sig", newline="")


def is_bundled(path) -> bool:
    return path in BUNDLED and not os.path.exists(path)


def load_training_data(args):
    """(X, y, feature_names, target_name, target_names, how the target was chosen) as host arrays."""
    path, target = args.data or "digits", args.target
    if is_bundled(path):
        if target is not None:
            raise ValueError(f"--target names a column of --data; the bundled {path} need none")
        data = BUNDLED[path]()
        return data.X, data.y, data.feature_names, data.target_name, data.target_names, "the bundled target"
    if path.endswith(".npz"):
        data = load_npz(path, y=target or "y")
        return (data.X, data.y, data.feature_names, target or "y", data.target_names,
                "--target" if target else "the array y; --target NAME to choose another")
    column = -1 if target is None else int(target) if target.lstrip("-").isdigit() else target
    try:
        data = load_csv(path, column, delimiter=args.delimiter, missing=args.missing)
    except CellError as error:
        last = last_column(path, args.delimiter) if target is None else None
        if last is not None and "is not a number" in str(error):
            raise ValueError(f"{error}; the target was not given, so it is the last column {last!r}: "
                             f"if {error.column!r} is the target, give --target {shlex.quote(error.column)}") from None
        raise ValueError(str(error).replace("(missing='drop')", "(--missing drop)")) from None
    how = "--target" if target is not None else "the last column; --target NAME to choose another"
    dropped = re.search(r"(\d+) rows with a missing value dropped", data.description)  # load_csv's count
    if dropped:
        print(f"xpnn: note: --missing drop: {dropped.group(1)} rows of {path} with a missing value were dropped",
              file=sys.stderr)
    return data.X, data.y, data.feature_names, data.target_name, data.target_names, how


def check_features(xp, X, source, names=None, what="X"):
    """X as a 2-d float64 table with finite values; the first non-finite value is named."""
    if X.ndim != 2 or not xp.isdtype(X.dtype, ("real floating", "integral")):
        raise ValueError(f"{source}: the features must be a 2-d numeric table, got {X.ndim}-d {backend.dtype_name(X.dtype)}")
    X = xp.astype(X, xp.float64)
    bad = ~xp.isfinite(X)
    if bool(xp.any(bad)):
        row = int(xp.argmax(xp.astype(xp.any(bad, axis=1), xp.int8)))
        column = int(xp.argmax(xp.astype(bad[row, :], xp.int8)))
        name = f" ({names[column]!r})" if names is not None and column < len(names) else ""
        where = f"{what} row {row}, column {column}{name}" if what == "X" else f"{what} {name.strip(' ()')}, sample {row}"
        raise ValueError(f"{source}: {where}: {float(X[row, column])} is not a "
                         f"finite number ({int(xp.sum(xp.astype(bad, xp.int64)))} such values); "
                         "fill them in or drop those rows")
    return X


def _label(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def choose_task(xp, y, target_names, requested, source, target):
    """(task, why, y as host array, class labels or None)."""
    words = target_names is not None and target_names.shape[0] > 0 and isinstance(target_names.tolist()[0], str)
    if not words and not xp.isdtype(y.dtype, ("real floating", "integral")):
        raise ValueError(f"{source}: the target {target!r} is not numeric ({backend.dtype_name(y.dtype)})")
    if not words:
        y = check_features(xp, xp.reshape(y, (-1, 1)), source, [target], what="target")[:, 0] if xp.isdtype(y.dtype, "real floating") else y
    n = y.shape[0]
    values = xp.unique_values(y)
    k = values.shape[0]
    whole = words or xp.isdtype(y.dtype, "integral") or bool(xp.all(y == xp.floor(y)))
    if words:
        auto, why = "classification", f"the target holds words ({k} distinct)"
    elif not whole:
        auto, why = "regression", "the target holds fractional numbers"
    elif k <= 2 or (k <= AUTO_MAX_CLASSES and n >= AUTO_SAMPLES_PER_CLASS * k):
        auto, why = "classification", (f"the target holds {k} distinct whole numbers among {n} samples "
                                       f"(at most {AUTO_MAX_CLASSES}, with at least {AUTO_SAMPLES_PER_CLASS} samples each, are class labels)")
    else:
        auto, why = "regression", (f"the target holds {k} distinct whole numbers among {n} samples: more than "
                                   f"{AUTO_MAX_CLASSES}, or fewer than {AUTO_SAMPLES_PER_CLASS} samples each, "
                                   "reads as a quantity")
    if requested == "auto":
        other = "regression" if auto == "classification" else "classification"
        task, why = auto, f"auto: {why}; --task {other} to override"
    else:
        task, why = requested, "--task"
        if task == "regression" and words:
            raise ValueError(f"{source}: --task regression: the target {target!r} holds words "
                             f"({', '.join(map(str, target_names.tolist()[:5]))}...), not numbers")
    if task == "regression":
        return task, why, xp.astype(y, xp.float64), None
    if k < 2:
        raise ValueError(f"{source}: the target has a single class ({_label(values[0].item()) if not words else target_names[0]}); nothing to learn")
    if words:
        names = [str(word) for word in target_names.tolist()]
        if len(names) != k or not bool(xp.all(values == xp.arange(k))):
            names = [names[int(i)] for i in values.tolist()]
    elif xp.isdtype(y.dtype, "integral") and target_names is not None and len(target_names) == k \
            and bool(xp.all(values == xp.arange(k))):
        names = [_label(item) for item in target_names.tolist()]  # .npz target_names
    else:
        names = [_label(int(v) if whole else v) for v in values.tolist()]
    return task, why, xp.searchsorted(values, y), names


def estimated_bytes(widths, batch_size, itemsize):
    """Memory training will hold: weights, their gradients, two moment buffers per weight (Adam's;
    SGD and RMSprop keep fewer), the largest layer's float64 initial draw on the host, and
    one batch's activations kept for the backward pass (about three arrays per layer)."""
    weights = sum(a * b + b for a, b in zip(widths, widths[1:]))
    largest = max(a * b for a, b in zip(widths, widths[1:]))
    return itemsize * (4 * weights + 3 * batch_size * sum(widths)) + 8 * largest, weights


def check_memory(widths, batch_size):
    itemsize = 8 if backend.DEFAULT_FLOAT == "float64" else 4
    needed, weights = estimated_bytes(widths, batch_size, itemsize)
    available, source = backend.available_memory()
    if available is not None and needed > available:
        raise ValueError(
            f"--hidden {','.join(map(str, widths[1:-1])) or 'none'}: a model of {weights:,} weights "
            f"({' -> '.join(map(str, widths))}) needs about {byte_size(needed)} to train (weights, gradients, "
            f"optimizer state, a batch of {batch_size}), more than the {byte_size(available)} of {source}; "
            "use smaller --hidden widths or --batch-size")


# ---------------------------------------------------------------- train

def scaling(xp, X):
    """Mean and standard deviation per feature; a constant feature (std 0) is left unscaled."""
    mean, std = xp.mean(X, axis=0), xp.std(X, axis=0)
    return mean, xp.where(std > 0, std, xp.ones_like(std))


def default_model_path(checkpoint_path) -> str:
    """Where a resumed run writes its model without --save: the model path recorded in the
    checkpoint's sidecar by the run that wrote it, else the checkpoint's name without .ckpt
    (m.xpnn.ckpt -> m.xpnn, run.ckpt -> run.xpnn)."""
    meta = read_sidecar_if_any(checkpoint_path)
    if meta and isinstance(meta.get("model_from_checkpoint"), str):  # relative: resumable from any folder
        path = os.path.join(os.path.dirname(checkpoint_path), meta["model_from_checkpoint"])
        return os.path.normpath(path), f"the model path of the run that wrote {checkpoint_path}"
    stem = checkpoint_path[:-5] if checkpoint_path.endswith(".ckpt") else checkpoint_path
    if os.path.splitext(stem)[1] in ("", ".csv", ".gz", ".npz", ".json"):
        stem = os.path.splitext(stem)[0] + ".xpnn"
    return stem, f"the name of {checkpoint_path} without .ckpt"


def refuse_output_over_input(outputs: dict, inputs: dict, allowed=()) -> None:
    """ValueError, before anything is read or written, when a file the command writes is one it
    reads (``predict --output m.xpnn`` wrote CSV over the model and exited 0) or another it
    writes; ``allowed`` lists the (output, input) pairs that are one file by design (a resumed
    run's checkpoint)."""
    written = [(label, path) for label, path in outputs.items() if path]
    for label, path in written:
        for source, given in inputs.items():
            if given and (label, source) not in allowed and backend.same_file(path, given):
                raise ValueError(f"{label} {path} is the {source} file {given}: writing it would destroy "
                                 f"what the command reads; give another path")
    for index, (label, path) in enumerate(written):
        for other, other_path in written[index + 1:]:
            if backend.same_file(path, other_path):
                raise ValueError(f"{label} {path} and {other} {other_path} are the same file; give them different paths")


def train(args) -> int:
    if args.target is not None and args.data is None:
        raise ValueError("--target names a column of --data; the bundled digits need none")
    activations.get(args.activation)  # unknown names fail here, before any data is read
    optimizer = optimizers.get(args.optimizer, **({} if args.lr is None else {"lr": args.lr}))
    if args.resume is not None and not os.path.exists(args.resume):
        raise FileNotFoundError(f"--resume {args.resume}: no such file")
    save, save_how = (args.save, "--save") if args.save or not args.resume else default_model_path(args.resume)
    source = args.data or "digits"
    checkpoint = args.checkpoint or args.resume or (save + ".ckpt" if save else None)
    outputs = {"--save": save, "the model's sidecar": save and save + ".json",
               "--checkpoint": checkpoint, "the checkpoint's sidecar": checkpoint and checkpoint + ".json",
               "--plot": args.plot}
    refuse_output_over_input(outputs, {"--data": None if is_bundled(args.data) else args.data,
                                       "--resume": args.resume},
                             allowed=[("--checkpoint", "--resume"), ("the checkpoint's sidecar", "--resume")])
    plot = plotting(args.plot)  # no matplotlib, or a folder that is not there, stops the run before it trains
    xp = backend.host_namespace()
    X, y, feature_names, target_name, target_names, target_how = load_training_data(args)
    X = check_features(xp, X, source, feature_names)
    if y is None or y.ndim != 1:
        raise ValueError(f"{source}: the target must be one value per sample")
    task, task_reason, y, classes = choose_task(xp, y, target_names, args.task, source, target_name)
    meta = {"format": SIDECAR_FORMAT, "version": SIDECAR_VERSION, "task": task, "task_reason": task_reason,
            "feature_names": list(feature_names), "target": target_name, "model": save, "checkpoint": checkpoint}
    if task == "classification":
        meta["classes"] = classes
        loss, outputs, target_text = "cross_entropy", len(classes), \
            f"{len(classes)} classes ({', '.join(classes[:10])}{' ...' if len(classes) > 10 else ''})"
    else:
        meta.update(target_mean=float(xp.mean(y)), target_std=float(xp.std(y)) or 1.0)
        loss, outputs = "mse", 1
        target_text = f"from {float(xp.min(y)):g} to {float(xp.max(y)):g} (mean {meta['target_mean']:g})"
        y = (y - meta["target_mean"]) / meta["target_std"]

    # a seeded shuffle, then the test part; scaling statistics come from the training part only
    order = xp.asarray(backend.rng(args.seed).permutation(X.shape[0]))
    n_test = max(1, round(X.shape[0] * args.test_fraction))
    if X.shape[0] - n_test < 2:
        raise ValueError(f"{source}: {X.shape[0]} samples are too few to split off a test set")
    widths = [X.shape[1], *args.hidden, outputs]
    check_memory(widths, min(args.batch_size, X.shape[0] - n_test))  # before anything is allocated
    test, fit_part = order[:n_test], order[n_test:]
    mean, std = scaling(xp, xp.take(X, fit_part, axis=0))
    meta.update(feature_mean=mean.tolist(), feature_std=std.tolist())
    X = (X - mean) / std
    X_train, X_test, y_train, y_test = (xp.take(a, i, axis=0) for a in (X, y) for i in (fit_part, test))

    xpnn.set_seed(args.seed)
    model = xpnn.Model(*[xpnn.Dense(a, b, activation=args.activation) for a, b in zip(widths[:-2], widths[1:-1])],
                       xpnn.Dense(widths[-2], widths[-1]))
    if not args.quiet:
        active = backend.active()
        print(f"data: {source}: {X.shape[0]} rows, {X.shape[1]} features; target {target_name!r} "
              f"({target_how}): {target_text}")
        print(f"task: {task} ({task_reason})")
        print(f"split: {X_train.shape[0]} to train ({args.validation_split:.0%} of them held out for early "
              f"stopping), {n_test} to test")
        print(f"backend: {active.name} {active.version} on {active.device}; chosen: "
              f"{'--backend ' + args.backend if args.backend else active.reason}")
        print(f"model: {' -> '.join(map(str, widths))} ({args.activation}), {model.count_params():,} parameters; "
              f"loss {loss}, optimizer {args.optimizer}")
    callbacks = []  # verbose=1: a line per epoch (and a bar on a terminal), then why it stopped
    if args.validation_split:
        callbacks.append(xpnn.EarlyStopping("val_loss", patience=args.patience))
    if checkpoint:
        callbacks.append(xpnn.ModelCheckpoint(checkpoint))
        if save:
            meta["model_from_checkpoint"] = os.path.relpath(os.path.abspath(save), os.path.dirname(os.path.abspath(checkpoint)))
        write_json_atomically(checkpoint + ".json", meta)  # predict and --resume read it
    history = model.fit(X_train, y_train, loss=loss, optimizer=optimizer, epochs=args.epochs,
                        batch_size=args.batch_size, validation_split=args.validation_split, seed=args.seed,
                        callbacks=callbacks, verbose=0 if args.quiet else 1, resume_from=args.resume)

    if task == "classification":
        result = model.evaluate(X_test, y_test, metrics=["accuracy"])
        print(" - ".join(f"test {key}: {value:.4f}" for key, value in result.items()))
    else:  # in the target's own units, not the standardized ones the model was trained on
        prediction = xpnn.to_numpy(model.predict(X_test)).reshape(-1) * meta["target_std"] + meta["target_mean"]
        truth = xpnn.to_numpy(y_test) * meta["target_std"] + meta["target_mean"]
        errors = prediction - truth
        total = float(((truth - truth.mean()) ** 2).sum())
        r2 = 1 - float((errors ** 2).sum()) / total if total > 0 else float("nan")
        print(f"test rmse: {float((errors ** 2).mean()) ** 0.5:.4g} - test mae: {float(abs(errors).mean()):.4g} "
              f"- test r2: {r2:.4f} (rmse and mae in the units of {target_name!r})")
    if save:
        model.save(save)
        write_json_atomically(save + ".json", meta)
        if args.resume and not args.save:
            print(f"saved the resumed model to {save} (+ {save}.json; {save_how}; --save PATH to choose another)")
        else:
            print(f"saved {save} (+ {save}.json, {checkpoint})")
    if plot is not None:
        plot.history(history, path=args.plot)
        print(f"saved the training history plot to {args.plot}")
    return 0


def plotting(path):
    """xpnn.plot when ``--plot PATH`` is given (None otherwise), with PATH checked as its
    functions check it. A missing matplotlib is a ValueError: the command reports bad input,
    including a missing optional extra, as one line with exit status 2."""
    if path is None:
        return None
    try:
        from xpnn import plot
    except ImportError:
        raise ValueError(f"--plot needs matplotlib, which is not installed: {PLOT_INSTALL}") from None
    plot.check_path(path, "--plot")
    return plot


def write_json_atomically(path, content) -> None:
    """The sidecar, through ``backend.write_atomically``: never a half-written file."""
    backend.write_atomically(path, lambda stream: json.dump(content, stream, indent=1), binary=False)


# ---------------------------------------------------------------- predict

def read_sidecar_if_any(model_path):
    """The sidecar ``<model>.json``, None when there is none; ValueError when it is unreadable."""
    path = model_path + ".json"
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as stream:
            meta = json.load(stream)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a readable sidecar ({error})") from None
    needed = {"format", "task", "feature_names", "feature_mean", "feature_std"}
    if not isinstance(meta, dict) or meta.get("format") != SIDECAR_FORMAT or not needed <= set(meta):
        raise ValueError(f"{path}: not an xpnn sidecar (it needs the keys {', '.join(sorted(needed))})")
    _check_sidecar(meta, path)
    return meta


def _check_sidecar(meta: dict, path: str) -> None:
    """Every entry predict uses, checked for type and agreement (a bad sidecar ended in an
    IndexError or KeyError): ValueError naming the file and the entry."""
    def bad(entry, what):
        return ValueError(f"{path}: corrupted sidecar: {entry} {what}")

    def finite_numbers(values):
        return isinstance(values, list) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) < 1e300 and math.isfinite(v)
            for v in values)  # abs first: math.isfinite(10**400) is an OverflowError

    names = meta["feature_names"]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise bad("feature_names", "must be a non-empty list of column names")
    for entry in ("feature_mean", "feature_std"):
        if not finite_numbers(meta[entry]) or len(meta[entry]) != len(names):
            raise bad(entry, f"must be {len(names)} finite numbers, one per feature")
    if not all(v > 0 for v in meta["feature_std"]):
        raise bad("feature_std", "must be positive")
    if meta["task"] == "classification":
        classes = meta.get("classes")
        if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) for c in classes):
            raise bad("classes", "must list the class names, at least 2, as text")
    elif meta["task"] == "regression":
        for entry in ("target_mean", "target_std"):
            if not finite_numbers([meta.get(entry)]) or (entry == "target_std" and not meta[entry] > 0):
                raise bad(entry, "must be a finite number" + (" > 0" if entry == "target_std" else ""))
    else:
        raise bad("task", f"must be 'classification' or 'regression', got {meta['task']!r:.40}")


def read_feature_columns(path, names, delimiter=None, width=None):
    """The columns ``names`` of a CSV table, by header name (extra columns are ignored), as float
    rows; ``names=None``: every column, in order, which must be ``width`` of them."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"--data {path}: no such file")
    with _open_text(path) as stream:
        if delimiter is None:
            delimiter = sniff_delimiter(stream.read(64 * 1024), path)
            stream.seek(0)
        rows = csv.reader(stream, delimiter=delimiter)
        header = next((cells for cells in rows if any(cell.strip() for cell in cells)), [])
        header = [cell.strip() for cell in header]
        if names is None:
            if len(header) != width:
                raise ValueError(f"{path}: the model takes {width} features and the file has {len(header)} "
                                 "columns; without a sidecar the columns are used in order, so keep just those")
            names = header
        missing = [name for name in names if name not in header]
        if missing:
            raise ValueError(f"{path}: the model expects {len(names)} feature columns; missing: "
                             f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}")
        columns = [header.index(name) for name in names]
        table = []
        for cells in rows:
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                raise ValueError(f"{path}: line {rows.line_num} has {len(cells)} fields, expected {len(header)} (as in the header)")
            try:
                table.append([number_cell(cells[i], header[i], rows.line_num, path, "predict") for i in columns])
            except CellError as error:
                raise ValueError(str(error).replace(" (missing='drop')", " before predicting")
                                 .replace(", or drop such rows", ", or drop the row")) from None
    if not table:
        raise ValueError(f"{path}: no data rows")
    return table


def predict(args) -> int:
    if not os.path.exists(args.model):
        raise FileNotFoundError(f"--model {args.model}: no such file")
    refuse_output_over_input({"--output": args.output}, {
        "--model": args.model, "the model's sidecar": args.model + ".json",
        "--data": None if is_bundled(args.data) else args.data})
    meta = read_sidecar_if_any(args.model)
    model = xpnn.load(args.model)
    if os.path.exists(args.model + ".ckpt"):
        if os.path.getmtime(args.model + ".ckpt") > os.path.getmtime(args.model) + 1:
            warnings.warn(f"{args.model}.ckpt is newer than {args.model} (a run went on after the model was "
                          f"saved?); predicting with {args.model}")
    loss_name = getattr(model.loss, "name", None)
    if meta is not None:
        task = meta["task"]
    else:
        task = "classification" if loss_name == "cross_entropy" else "regression" if loss_name else "outputs"
    if args.proba and task != "classification":
        raise ValueError(f"--proba: {args.model} is a {task if task != 'outputs' else 'model without a known loss'}"
                         f"{' model' if task == 'regression' else ''}; probabilities need a classifier")
    xp = backend.host_namespace()
    names = meta["feature_names"] if meta else None
    width = len(names) if names else input_width(model)
    if is_bundled(args.data):
        data = BUNDLED[args.data]()
        X = check_features(xp, data.X, args.data, data.feature_names)
        if names and list(data.feature_names) != names:
            raise ValueError(f"--data {args.data}: the bundled set's features are not the model's "
                             f"({', '.join(names[:3])}...)")
    elif args.data.endswith(".npz"):
        if not os.path.exists(args.data):
            raise FileNotFoundError(f"--data {args.data}: no such file")
        X = check_features(xp, load_npz(args.data, y=None).X, args.data)
    else:
        X = xp.asarray(read_feature_columns(args.data, names, args.delimiter, width), dtype=xp.float64)
    if width is not None and X.shape[1] != width:
        raise ValueError(f"{args.data}: X has {X.shape[1]} features but the model expects {width}")
    if meta:
        X = (X - xp.asarray(meta["feature_mean"])) / xp.asarray(meta["feature_std"])
    out = model.predict(X)
    if task == "classification":
        classes = meta["classes"] if meta else [str(i) for i in range(out.shape[1])]
        if len(classes) != out.shape[1]:
            raise ValueError(f"{args.model}.json: corrupted sidecar: it names {len(classes)} classes but the model "
                             f"has {out.shape[1]} outputs")
        labels = [classes[i] for i in xpnn.to_numpy(backend.namespace_of(out=out).argmax(out, axis=1)).tolist()]
        header, rows = ["prediction"], [[label] for label in labels]
        if args.proba:
            proba = xpnn.to_numpy(xpnn.Softmax()(out)).tolist()
            header += [f"proba_{name}" for name in classes]
            rows = [row + [f"{p:.6g}" for p in ps] for row, ps in zip(rows, proba)]
    else:
        values = xpnn.to_numpy(out)
        values = values.reshape(values.shape[0], -1)
        if meta:
            values = values * meta["target_std"] + meta["target_mean"]
        header = ["prediction"] if values.shape[1] == 1 else [f"output_{i}" for i in range(values.shape[1])]
        rows = [[f"{v:.6g}" for v in row] for row in values.tolist()]
    def write_rows(stream):
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)

    if args.output:  # atomically: an interrupted write leaves the previous file as it was
        backend.write_atomically(args.output, write_rows, binary=False)
    else:
        write_rows(sys.stdout)
    if args.output:
        how = "with its sidecar" if meta else "without a sidecar: raw features, outputs named by the model's loss"
        print(f"wrote {len(rows)} predictions ({', '.join(header[:4])}{' ...' if len(header) > 4 else ''}) "
              f"to {args.output} (model {args.model}, {how})")
    return 0


# ---------------------------------------------------------------- info

def info(args) -> int:
    print(f"xpnn {xpnn.__version__} - Python {platform.python_version()} ({sys.executable})")
    print(backend.describe())
    print("devices:")
    for name, (usable, _) in backend.available_backends().items():
        if usable:  # the array API's inspection namespace lists a library's devices
            with xpnn.use_backend(name) as namespace:
                devices = namespace.__array_namespace_info__().devices()
            print(f"  {name:<17} {', '.join(str(device) for device in devices)}")
    packages = []
    for package in ("numpy", "array-api-compat", "array-api-strict", "tqdm", "cupy-cuda12x", "cupy-cuda13x", "cupy"):
        try:
            packages.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    print("installed:", ", ".join(packages))
    return 0


# ---------------------------------------------------------------- entry point

def main(argv=None) -> int:
    try:
        try:
            args = build_parser().parse_args(argv)
        except UsageError as error:
            print(f"{error}", file=sys.stderr)
            return 2
        except SystemExit as done:  # --help and --version
            code = done.code or 0
        else:
            command = {"train": train, "predict": predict, "info": info}[args.command]
            with warnings.catch_warnings():
                # the library's warnings (resuming with another batch size...) as one line, not two
                warnings.showwarning = lambda message, category, *_: print(
                    f"xpnn: warning: {message}", file=sys.stderr)
                code = run_command(command, args)
        sys.stdout.flush()  # a closed pipe shows up here, not at exit
        return code
    except BrokenPipeError:
        # https://docs.python.org/3/library/signal.html#note-on-sigpipe: point stdout at devnull so
        # that the flush at exit does not raise again, and exit with 1 as Python does on EPIPE
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def run_command(command, args) -> int:
    try:
        if getattr(args, "backend", None):
            with xpnn.use_backend(args.backend):
                return command(args)
        return command(args)
    except (ValueError, TypeError, OSError, xpnn.BackendError) as error:
        if isinstance(error, BrokenPipeError):
            raise
        # the library's messages name the problem; keep them on one line for scripts and logs
        print(f"xpnn: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    except MemoryError as error:
        print(f"xpnn: error: out of memory{f' ({error})' if str(error) else ''}; use smaller --hidden "
              "widths or --batch-size, or less data", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("xpnn: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug: one line for the user, the traceback on request
        if os.environ.get("XPNN_TRACEBACK"):
            raise
        print(f"xpnn: internal error: {type(error).__name__}: {' '.join(str(error).split())} "
              "(a bug in xpnn: please report it; XPNN_TRACEBACK=1 shows the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
