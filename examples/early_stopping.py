"""Early stopping on a network that overfits, restoring the weights of its best epoch.

    python examples/early_stopping.py           # figure in examples/figures/early_stopping.png
    python examples/early_stopping.py --quick   # fewer epochs

"Early stopping monitors validation loss during training and stops when validation performance
stops improving" (the founding notes' chapter). The setup overfits on purpose: a 2-128-128-2
ReLU network (17 154 parameters) on 60 noisy moons (noise 0.35), Adam (lr 0.01), full batch;
500 more points for validation and 500 for the test. The same network from the same seed is
trained twice: for all the epochs, and with ``xpnn.EarlyStopping("val_loss", patience=20)``,
whose ``restore_best_weights`` (on by default) puts back the weights of the epoch with the lowest
validation loss. Both are then scored on the test points, which neither run saw.
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np

import xpnn
from xpnn.datasets import make_moons

FIGURES = pathlib.Path(__file__).parent / "figures"


def network():
    xpnn.set_seed(0)  # the same initial weights for both runs
    return xpnn.Model(xpnn.Dense(2, 128, activation="relu"), xpnn.Dense(128, 128, activation="relu"),
                      xpnn.Dense(128, 2))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=pathlib.Path, default=FIGURES, help="folder for the figure")
    parser.add_argument("--quick", action="store_true", help="100 epochs instead of 300: a smoke run")
    parser.add_argument("--no-plot", action="store_true", help="skip the figure")
    args = parser.parse_args(argv)
    epochs = 100 if args.quick else 300
    X, y = make_moons(1060, noise=0.35, random_state=0)
    X_train, y_train = X[:60], y[:60]
    X_val, y_val, X_test, y_test = X[60:560], y[60:560], X[560:], y[560:]
    settings = dict(loss="cross_entropy", epochs=epochs, batch_size=None, verbose=0,
                    validation_data=(X_val, y_val))

    full = network()
    full_history = full.fit(X_train, y_train, **settings, optimizer=xpnn.Adam(lr=0.01))
    val_loss = np.array(full_history["val_loss"])
    best = int(val_loss.argmin())
    print(f"without early stopping, {epochs} epochs: training loss {full_history['loss'][-1]:.3f}; validation loss "
          f"lowest {val_loss[best]:.3f} at epoch {best + 1}, {val_loss[-1]:.3f} at the end"
          + (" (overfitting)" if val_loss[-1] > 1.1 * val_loss[best] else ""))

    stopped = network()
    stopper = xpnn.EarlyStopping("val_loss", patience=20, restore_best_weights=True)
    history = stopped.fit(X_train, y_train, **settings, optimizer=xpnn.Adam(lr=0.01), callbacks=[stopper])
    print(f"with EarlyStopping(patience=20): {history.stop_reason or 'ran all its epochs'}; ran {len(history.epoch)} "
          f"epochs, weights restored from epoch {stopper.best_epoch + 1}")

    results = {}
    for name, model in (("all epochs", full), ("early stopping", stopped)):
        scores = model.evaluate(X_test, y_test, metrics=["accuracy"])
        results[name] = scores
        print(f"  test ({len(y_test)} points), {name:<14}: loss {scores['loss']:.3f}, accuracy {scores['accuracy']:.3f}")

    if not args.no_plot:
        from xpnn import plot  # matplotlib, only when drawing

        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / "early_stopping.png"
        figure = plot.history(full_history)
        for axes in figure.axes:
            axes.axvline(stopper.best_epoch + 1, color="green", linestyle=":", label="best epoch (restored)")
            axes.axvline(len(history.epoch), color="red", linestyle=":", label="early stopping stops")
            axes.legend(fontsize="small")
        figure.savefig(path, dpi=72)
        print(f"figure: {path}")
    return {"best_epoch": stopper.best_epoch + 1, "epochs_run": len(history.epoch), "test": results,
            "lowest_val_loss": float(val_loss[best]), "final_val_loss": float(val_loss[-1])}


if __name__ == "__main__":
    main()
