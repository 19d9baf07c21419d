"""The ``xpnn`` command: ``train``, ``predict`` and ``info`` on top of the library's front floor.

``xpnn train --save m.xpnn`` writes three files: ``m.xpnn`` (``Model.save``: architecture and
weights, ``xpnn.load`` reads it), ``m.xpnn.json`` (the sidecar below) and ``m.xpnn.ckpt`` (a
full training checkpoint rewritten every epoch; ``xpnn train --resume m.xpnn.ckpt`` continues an
interrupted run with the same data, seed and options). The model sees standardized features, so
the sidecar keeps what ``predict`` needs to feed it raw data and name its outputs::

    {"format": "xpnn.cli", "version": 1, "task": "classification" | "regression",
     "feature_names": [...], "feature_mean": [...], "feature_std": [...],
     "target": "species", "classes": [...],            # classification: label of each output
     "target_mean": 0.0, "target_std": 1.0}            # regression: the target was scaled too

Bad input (a missing file, an unknown column, a non-numeric cell, an unknown activation, an
unusable backend...) ends with one line ``xpnn: error: ...`` on stderr and exit status 2; the
library's messages already name the file, line and column. Anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import importlib.metadata
import json
import os
import platform
import sys
import warnings

import xpnn
from xpnn import activations, backend, optimizers
from xpnn.datasets import load_csv, load_digits, load_npz
from xpnn.utils.validation import check_int, check_number

SIDECAR_FORMAT, SIDECAR_VERSION = "xpnn.cli", 1
MAX_CLASSES = 100  # an integer target with more distinct values than this is a quantity, not a class


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
    """'128,64' -> [128, 64]; '' -> [] (a linear model)."""
    sizes = [part.strip() for part in text.split(",") if part.strip()]
    if not all(part.isdigit() and int(part) > 0 for part in sizes):
        raise argparse.ArgumentTypeError(f"{text!r} must be layer widths > 0 separated by commas, e.g. 128,64")
    return [int(part) for part in sizes]


def build_parser() -> Parser:
    parser = Parser(prog="xpnn", description="Train and use xpnn neural networks from the shell.")
    parser.add_argument("--version", action="version", version=f"xpnn {xpnn.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    train = commands.add_parser("train", help="train an MLP (default: on the bundled digits)")
    train.add_argument("--data", help="a .csv/.csv.gz table or a .npz archive (default: bundled digits)")
    train.add_argument("--target", help="CSV: the target column's name or index (default: the last "
                                        "column); .npz: the target array's name (default: y)")
    train.add_argument("--hidden", type=_hidden, default=[128, 64], help="hidden widths (default 128,64)")
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
    train.add_argument("--save", metavar="PATH", help="write the model to PATH, PATH.json and PATH.ckpt")
    train.add_argument("--checkpoint", metavar="PATH", help="rewrite a training checkpoint here every epoch")
    train.add_argument("--resume", metavar="PATH", help="continue from a checkpoint (and keep updating it)")
    train.add_argument("--quiet", action="store_true", help="print only the final result")

    predict = commands.add_parser("predict", help="predict with a model written by 'xpnn train --save'")
    predict.add_argument("--model", required=True, metavar="PATH")
    predict.add_argument("--data", required=True, help="a .csv/.csv.gz table with the model's feature columns, or a .npz with X")
    predict.add_argument("--output", help="CSV file to write (default: standard output)")
    predict.add_argument("--proba", action="store_true", help="also write each class's probability")
    predict.add_argument("--backend", help="as for train")

    commands.add_parser("info", help="xpnn version, backends, their versions and devices")
    return parser


# ---------------------------------------------------------------- train

def load_training_data(path, target):
    """(X, y, feature_names, target_name, target_names) as host arrays."""
    if path is None:
        data = load_digits()
        return data.X, data.y, data.feature_names, "digit", data.target_names
    if path.endswith(".npz"):
        data = load_npz(path, y=target or "y")
        return data.X, data.y, data.feature_names, target or "y", data.target_names
    column = -1 if target is None else int(target) if target.lstrip("-").isdigit() else target
    data = load_csv(path, column)
    return data.X, data.y, data.feature_names, str(target or "last column"), data.target_names


def check_features(xp, X, source):
    if X.ndim != 2 or not xp.isdtype(X.dtype, ("real floating", "integral")):
        raise ValueError(f"{source}: the features must be a 2-d numeric table, got {X.ndim}-d {backend.dtype_name(X.dtype)}")
    return xp.astype(X, xp.float64)


def scaling(xp, X):
    """Mean and standard deviation per feature; a constant feature (std 0) is left unscaled."""
    mean, std = xp.mean(X, axis=0), xp.std(X, axis=0)
    return mean, xp.where(std > 0, std, xp.ones_like(std))


def train(args) -> int:
    if args.target is not None and args.data is None:
        raise ValueError("--target names a column of --data; the bundled digits need none")
    activations.get(args.activation)  # unknown names fail here, before any data is read
    optimizer = optimizers.get(args.optimizer, **({} if args.lr is None else {"lr": args.lr}))
    xp = backend.host_namespace()
    X, y, feature_names, target_name, target_names = load_training_data(args.data, args.target)
    X = check_features(xp, X, args.data or "digits")
    if y is None or y.ndim != 1:
        raise ValueError(f"{args.data}: the target must be one value per sample")
    meta = {"format": SIDECAR_FORMAT, "version": SIDECAR_VERSION, "feature_names": list(feature_names),
            "target": target_name}
    if xp.isdtype(y.dtype, "integral") and len(xp.unique_values(y)) <= MAX_CLASSES:
        classes = xp.unique_values(y)
        if classes.shape[0] < 2:
            raise ValueError(f"{args.data}: the target has a single class ({classes[0]}); nothing to learn")
        # words coded 0..k-1 by load_csv keep their names; other integer labels are their own names
        names = target_names if target_names is not None and len(target_names) == classes.shape[0] \
            and bool(xp.all(classes == xp.arange(classes.shape[0]))) else classes
        meta.update(task="classification", classes=[str(c) for c in names.tolist()])
        y, loss, outputs = xp.searchsorted(classes, y), "cross_entropy", classes.shape[0]
    elif xp.isdtype(y.dtype, ("real floating", "integral")):
        y = xp.astype(y, xp.float64)
        meta.update(task="regression", target_mean=float(xp.mean(y)), target_std=float(xp.std(y)) or 1.0)
        y, loss, outputs = (y - meta["target_mean"]) / meta["target_std"], "mse", 1
    else:
        raise ValueError(f"{args.data}: the target {target_name!r} is not numeric ({backend.dtype_name(y.dtype)})")

    # a seeded shuffle, then the test part; scaling statistics come from the training part only
    order = xp.asarray(backend.rng(args.seed).permutation(X.shape[0]))
    n_test = max(1, round(X.shape[0] * args.test_fraction))
    if X.shape[0] - n_test < 2:
        raise ValueError(f"{args.data}: {X.shape[0]} samples are too few to split off a test set")
    test, fit_part = order[:n_test], order[n_test:]
    mean, std = scaling(xp, xp.take(X, fit_part, axis=0))
    meta.update(feature_mean=mean.tolist(), feature_std=std.tolist())
    X = (X - mean) / std
    X_train, X_test, y_train, y_test = (xp.take(a, i, axis=0) for a in (X, y) for i in (fit_part, test))

    xpnn.set_seed(args.seed)
    widths = [X.shape[1], *args.hidden]
    model = xpnn.Model(*[xpnn.Dense(a, b, activation=args.activation) for a, b in zip(widths, widths[1:])],
                       xpnn.Dense(widths[-1], outputs))
    callbacks = []  # verbose=1: a line per epoch (and a bar on a terminal), then why it stopped
    if args.validation_split:
        callbacks.append(xpnn.EarlyStopping("val_loss", patience=args.patience))
    checkpoint = args.checkpoint or args.resume or (args.save + ".ckpt" if args.save else None)
    if checkpoint:
        callbacks.append(xpnn.ModelCheckpoint(checkpoint))
    model.fit(X_train, y_train, loss=loss, optimizer=optimizer, epochs=args.epochs,
              batch_size=args.batch_size, validation_split=args.validation_split, seed=args.seed,
              callbacks=callbacks, verbose=0 if args.quiet else 1, resume_from=args.resume)

    result = model.evaluate(X_test, y_test, metrics=["accuracy"] if loss == "cross_entropy" else ["r2"])
    print(" - ".join(f"test {key}: {value:.4f}" for key, value in result.items()))
    if args.save:
        model.save(args.save)
        write_json_atomically(args.save + ".json", meta)
        print(f"saved {args.save} (+ {args.save}.json, {checkpoint})")
    return 0


def write_json_atomically(path, content) -> None:
    """The sidecar, through ``backend.write_atomically``: never a half-written file."""
    backend.write_atomically(path, lambda stream: json.dump(content, stream, indent=1), binary=False)


# ---------------------------------------------------------------- predict

def read_sidecar(model_path) -> dict:
    path = model_path + ".json"
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file; predict needs the sidecar 'xpnn train --save' writes")
    try:
        with open(path, encoding="utf-8") as stream:
            meta = json.load(stream)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a readable sidecar ({error})") from None
    needed = {"format", "task", "feature_names", "feature_mean", "feature_std"}
    if not isinstance(meta, dict) or meta.get("format") != SIDECAR_FORMAT or not needed <= set(meta):
        raise ValueError(f"{path}: not an xpnn sidecar (it needs the keys {', '.join(sorted(needed))})")
    return meta


def read_feature_columns(path, names):
    """The columns ``names`` of a CSV table, by header name, as float rows (extra columns are ignored)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as stream:
        rows = csv.reader(stream)
        header = [cell.strip() for cell in next(rows, [])]
        missing = [name for name in names if name not in header]
        if missing:
            raise ValueError(f"{path}: the model expects {len(names)} feature columns; missing: "
                             f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}")
        columns = [header.index(name) for name in names]
        table = []
        for cells in rows:
            if not any(cell.strip() for cell in cells):
                continue
            try:
                table.append([float(cells[i]) for i in columns])
            except (ValueError, IndexError):
                raise ValueError(f"{path}: line {rows.line_num}: a feature cell is missing or not a number") from None
    if not table:
        raise ValueError(f"{path}: no data rows")
    return table


def predict(args) -> int:
    meta = read_sidecar(args.model)
    model = xpnn.load(args.model)
    xp = backend.host_namespace()
    names = meta["feature_names"]
    if args.data.endswith(".npz"):
        X = check_features(xp, load_npz(args.data, y=None).X, args.data)
        if X.shape[1] != len(names):
            raise ValueError(f"{args.data}: X has {X.shape[1]} features but the model expects {len(names)}")
    else:
        X = xp.asarray(read_feature_columns(args.data, names), dtype=xp.float64)
    X = (X - xp.asarray(meta["feature_mean"])) / xp.asarray(meta["feature_std"])
    out = model.predict(X)
    if meta["task"] == "classification":
        labels = [meta["classes"][i] for i in xpnn.to_numpy(backend.namespace_of(out=out).argmax(out, axis=1)).tolist()]
        header, rows = ["prediction"], [[label] for label in labels]
        if args.proba:
            proba = xpnn.to_numpy(xpnn.Softmax()(out)).tolist()
            header += [f"proba_{name}" for name in meta["classes"]]
            rows = [row + [f"{p:.6g}" for p in ps] for row, ps in zip(rows, proba)]
    else:
        values = xpnn.to_numpy(out).reshape(-1).tolist()
        header = ["prediction"]
        rows = [[f"{v * meta['target_std'] + meta['target_mean']:.6g}"] for v in values]
    stream = open(args.output, "w", newline="", encoding="utf-8") if args.output else sys.stdout
    try:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    finally:
        if args.output:
            stream.close()
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
        args = build_parser().parse_args(argv)
    except UsageError as error:
        print(f"{error}", file=sys.stderr)
        return 2
    except SystemExit as done:  # --help and --version
        return done.code or 0
    command = {"train": train, "predict": predict, "info": info}[args.command]
    with warnings.catch_warnings():
        # the library's warnings (resuming with another batch size...) as one line, not two
        warnings.showwarning = lambda message, category, *_: print(
            f"xpnn: warning: {message}", file=sys.stderr)
        return run_command(command, args)


def run_command(command, args) -> int:
    try:
        if getattr(args, "backend", None):
            with xpnn.use_backend(args.backend):
                return command(args)
        return command(args)
    except (ValueError, TypeError, OSError, xpnn.BackendError) as error:
        # the library's messages name the problem; keep them on one line for scripts and logs
        print(f"xpnn: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("xpnn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
