"""The seven exercises of "Neural Networks Fundamentals" (shared/seeds/003), answered with xpnn.

    python examples/exercises.py               # all seven, figures in examples/figures/
    python examples/exercises.py --only 4 5    # some of them
    python examples/exercises.py --quick       # fewer repeats and epochs (the smoke test)

1. Manual forward propagation: a 2-3-1 ReLU network on x = [1, 2], by hand and by xpnn.
2. Activation functions: sigmoid, tanh, ReLU, Leaky ReLU (0.01) and their derivatives, plotted,
   with where each saturates (|da/dz| < 0.01).
3. Backpropagation by hand: every gradient of a 2-2-1 network under MSE, written out, against
   xpnn's backward pass.
4. Learning rates 1e-4 ... 1.0 with plain SGD on a small regression (sin x, 200 points): which
   converges fastest, which diverges.
5. Iris with 4-50-3, 4-25-25-3 and 4-20-20-20-3: mean and spread of the test accuracy over
   repeated random splits.
6. Dropout 0, 0.2, 0.5, 0.8 in an oversized network on 60 noisy moons: training vs validation
   accuracy and the gap between them.
7. A 10-layer tanh network (and its ReLU twin) initialised with zeros, Xavier, He and
   uniform[-1, 1]: per-layer activation distributions after one forward pass.
"""

from __future__ import annotations

import argparse
import functools
import math
import pathlib
import warnings

import numpy as np

import xpnn
from xpnn.datasets import load_iris, make_moons, make_regression_1d

FIGURES = pathlib.Path(__file__).parent / "figures"


def heading(number, title):
    print(f"\n=== Exercise {number}: {title} ===")


def host(array):
    return np.asarray(xpnn.to_numpy(array))


def set_weights(layer, weight, bias):
    layer.weight.value = xpnn.asarray(np.asarray(weight, dtype=np.float64), dtype="float64")
    layer.bias.value = xpnn.asarray(np.asarray(bias, dtype=np.float64), dtype="float64")


# ---------------------------------------------------------------- 1. manual forward propagation

def exercise_1(args):
    heading(1, "manual forward propagation, 2-3-1 ReLU network, x = [1, 2]")
    x = np.array([1.0, 2.0])
    W1 = np.array([[0.5, -1.0, 0.25], [0.5, 0.2, -0.75]])  # (inputs, hidden): xpnn's layout
    b1 = np.array([0.1, 0.0, 0.3])
    W2 = np.array([[1.0], [-2.0], [0.5]])
    b2 = np.array([0.05])
    z1 = x @ W1 + b1
    a1 = np.maximum(z1, 0.0)
    by_hand = float((a1 @ W2 + b2)[0])
    for j in range(3):
        print(f"  z{j + 1} = {W1[0, j]:g}·1 + {W1[1, j]:g}·2 + {b1[j]:g} = {z1[j]:g}   "
              f"a{j + 1} = ReLU(z{j + 1}) = {a1[j]:g}")
    print(f"  ŷ = {W2[0, 0]:g}·{a1[0]:g} + {W2[1, 0]:g}·{a1[1]:g} + {W2[2, 0]:g}·{a1[2]:g} + {b2[0]:g} "
          f"= {by_hand:g}   (linear output, as in the chapter)")
    hidden, output = xpnn.Dense(2, 3, activation="relu").astype("float64"), xpnn.Dense(3, 1).astype("float64")
    set_weights(hidden, W1, b1)
    set_weights(output, W2, b2)
    got = float(xpnn.Model(hidden, output).predict(np.array([[1.0, 2.0]]))[0, 0])
    print(f"  xpnn: {got:g} (difference {abs(got - by_hand):.1e})")
    return {"by_hand": by_hand, "xpnn": got}


# ---------------------------------------------------------------- 2. activation functions

ACTIVATIONS = {"sigmoid": {}, "tanh": {}, "relu": {}, "leaky_relu": {"alpha": 0.01}}
SATURATION = 0.01  # |da/dz| below this passes (almost) nothing back


def exercise_2(args):
    heading(2, "activation functions, their derivatives, and where they saturate (|da/dz| < 0.01)")
    z = np.round(np.arange(-10.0, 10.0 + 1e-9, 0.01), 2)
    zz = xpnn.asarray(z, dtype="float64")
    saturation = {}
    for name, hyper in ACTIVATIONS.items():
        function = getattr(xpnn.activations, name)  # the pure function, with .derivative
        d = host(function.derivative(zz, **hyper))
        alive = np.flatnonzero(np.abs(d) >= SATURATION)
        first, last = alive[0], alive[-1]
        saturation[name] = (float(z[first]), float(z[last]))  # the range where it still passes gradient
        where = []
        if first > 0:
            where.append(f"z <= {z[first - 1] + 0.0:g}" + (" (derivative exactly 0: a dead unit)" if d[0] == 0 else ""))
        if last < len(z) - 1:
            where.append(f"z >= {z[last + 1]:g}")
        said = " and ".join(where) if where else f"nowhere in [-10, 10] (smallest derivative {d.min():g})"
        print(f"  {name:<11} largest derivative {d.max():g}; saturated for {said}")
    if not args.no_plot:
        from xpnn import plot  # matplotlib, only when drawing

        path = args.out / "activations.png"
        plot.activations(["sigmoid", "tanh", "relu", xpnn.LeakyReLU(alpha=0.01)], saturation=SATURATION,
                              path=path)
        print(f"  figure: {path}")
    return saturation


# ---------------------------------------------------------------- 3. backpropagation by hand

def exercise_3(args):
    heading(3, "backpropagation by hand, 2-2-1 network (sigmoid hidden, linear output), MSE")
    x, y = np.array([0.5, -1.0]), np.array([1.0])
    W1, b1 = np.array([[0.1, -0.3], [0.4, 0.2]]), np.array([0.0, 0.1])
    W2, b2 = np.array([[0.7], [-0.5]]), np.array([0.2])
    # forward
    z1 = x @ W1 + b1
    a1 = 1.0 / (1.0 + np.exp(-z1))
    y_hat = a1 @ W2 + b2
    loss = float(np.mean((y_hat - y) ** 2))
    # backward, one chain rule at a time
    d_yhat = 2.0 * (y_hat - y) / y.size  # dL/dŷ of the mean squared error
    dW2, db2 = np.outer(a1, d_yhat), d_yhat
    d_a1 = W2 @ d_yhat
    d_z1 = d_a1 * a1 * (1.0 - a1)  # sigmoid'(z) = a (1 - a)
    dW1, db1 = np.outer(x, d_z1), d_z1
    by_hand = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    print(f"  forward: z1 = {np.round(z1, 4)}, a1 = {np.round(a1, 4)}, ŷ = {y_hat[0]:.4f}, "
          f"L = (ŷ - {y[0]:g})² = {loss:.6f}")

    hidden, output = xpnn.Dense(2, 2, activation="sigmoid").astype("float64"), xpnn.Dense(2, 1).astype("float64")
    set_weights(hidden, W1, b1)
    set_weights(output, W2, b2)
    model = xpnn.Model(hidden, output)
    model.zero_grad()
    out, backward = model.forward(xpnn.asarray(x[None, :], dtype="float64"))
    value, loss_backward = xpnn.MSE().forward(out, xpnn.asarray(y[None, :], dtype="float64"))
    backward(loss_backward())
    by_xpnn = {"W1": host(hidden.weight.grad), "b1": host(hidden.bias.grad),
               "W2": host(output.weight.grad), "b2": host(output.bias.grad)}
    worst = 0.0
    for name in by_hand:
        difference = float(np.max(np.abs(by_hand[name] - by_xpnn[name])))
        worst = max(worst, difference)
        print(f"  dL/d{name}: by hand {np.round(by_hand[name].ravel(), 6).tolist()}, "
              f"xpnn {np.round(by_xpnn[name].ravel(), 6).tolist()}")
    print(f"  xpnn's loss {float(value):.6f}; largest gradient difference {worst:.1e}")
    return {"loss": loss, "worst": worst}


# ---------------------------------------------------------------- 4. learning rates

LEARNING_RATES = (1e-4, 1e-3, 1e-2, 0.1, 1.0)


def exercise_4(args):
    heading(4, "learning rates with SGD on sin(x) (200 points, 1-32-1 tanh, MSE, batch 32)")
    x, y = make_regression_1d(200, noise=0.05, random_state=0)
    epochs = 30 if args.quick else 100
    curves, summary = {}, {}
    for lr in LEARNING_RATES:
        xpnn.set_seed(0)  # the same initial weights for every rate
        model = xpnn.Model(xpnn.Dense(1, 32, activation="tanh"), xpnn.Dense(32, 1))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's overflow on the way to NaN
            warnings.simplefilter("always", xpnn.TrainingHealthWarning)
            history = model.fit(x, y, loss="mse", optimizer=xpnn.SGD(lr=lr), epochs=epochs, batch_size=32,
                                verbose=0, seed=0)
        for warning in caught:  # fit stops at a non-finite loss and says so (terminate_on_nan)
            print(f"  lr {lr:g}: {warning.category.__name__}: {warning.message}")
        losses = np.array(history["loss"], dtype=float)
        curves[lr] = losses
        diverged = not np.all(np.isfinite(losses)) or losses[-1] > losses[0]
        below = np.flatnonzero(losses < 0.05)
        summary[lr] = {"final": float(losses[-1]), "diverged": bool(diverged),
                       "epochs_to_0.05": int(below[0]) + 1 if below.size else None}
        reached = f"loss < 0.05 at epoch {below[0] + 1}" if below.size else "never below 0.05"
        print(f"  lr {lr:<7g} loss at epoch 1: {losses[0]:.4g}, at epoch {len(losses)}: {losses[-1]:.4g}; "
              f"{'DIVERGED' if diverged else reached}")
    finite = {lr: s for lr, s in summary.items() if not s["diverged"]}
    fastest = min(finite, key=lambda lr: (summary[lr]["epochs_to_0.05"] or math.inf, summary[lr]["final"]))
    diverging = [lr for lr, s in summary.items() if s["diverged"]]
    print(f"  fastest: lr {fastest:g}; diverges: {', '.join(f'lr {lr:g}' for lr in diverging) or 'none'}; "
          f"the smallest rates barely move in {epochs} epochs")
    if not args.no_plot:
        _figure_4(curves, args.out / "learning_rates.png")
    return {"fastest": fastest, "diverged": diverging, "summary": summary}


def _figure_4(curves, path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.5), layout="constrained")
    ax = fig.subplots()
    for lr, losses in curves.items():
        shown = np.where(np.isfinite(losses), losses, np.nan)
        ax.plot(np.arange(1, len(losses) + 1), shown, label=f"lr {lr:g}" + ("" if np.all(np.isfinite(losses))
                                                                            else " (diverged: off the scale, then NaN)"))
    # the diverging run would stretch the axis to 1e30: show the others' range, it leaves the top
    settled = [losses for losses in curves.values() if np.all(np.isfinite(losses))]
    top = 10 * max(float(np.max(losses)) for losses in settled) if settled else None
    ax.set(xlabel="epoch", ylabel="training loss (MSE)", yscale="log", title="SGD learning rates on sin(x)",
           ylim=(None, top))
    ax.legend()
    fig.savefig(path, dpi=72)
    print(f"  figure: {path}")


# ---------------------------------------------------------------- 5. architectures on Iris

ARCHITECTURES = {"4-50-3": (50,), "4-25-25-3": (25, 25), "4-20-20-20-3": (20, 20, 20)}


def iris_split(X, y, seed, test_fraction=0.3):
    """A seeded shuffle into training and test parts, standardised with the training statistics."""
    order = xpnn.backend.rng(seed).permutation(len(y))
    n_test = round(len(y) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    mean, std = X[train].mean(axis=0), X[train].std(axis=0)
    return (X[train] - mean) / std, y[train], (X[test] - mean) / std, y[test]


def network(widths, inputs=4, outputs=3):
    sizes = (inputs, *widths)
    return xpnn.Model(*[xpnn.Dense(a, b, activation="relu") for a, b in zip(sizes, sizes[1:])],
                      xpnn.Dense(sizes[-1], outputs))


def exercise_5(args):
    splits = 3 if args.quick else 10
    heading(5, f"architectures on Iris: test accuracy over {splits} random 70/30 splits (ReLU, Adam, 100 epochs)")
    X, y = load_iris(return_X_y=True)
    X, y = np.asarray(X, dtype=float), np.asarray(y)
    results = {}
    for name, widths in ARCHITECTURES.items():
        scores = []
        for seed in range(splits):
            X_train, y_train, X_test, y_test = iris_split(X, y, seed)
            xpnn.set_seed(seed)
            model = network(widths)
            model.fit(X_train, y_train, loss="cross_entropy", optimizer=xpnn.Adam(lr=0.01),
                      epochs=30 if args.quick else 100, batch_size=16, verbose=0, seed=seed)
            scores.append(model.evaluate(X_test, y_test, metrics=["accuracy"])["accuracy"])
        scores = np.array(scores)
        parameters = sum(math.prod(p.value.shape) for p in model.parameters())
        results[name] = {"mean": float(scores.mean()), "std": float(scores.std()), "scores": scores.tolist()}
        print(f"  {name:<13} {parameters:>4} parameters: mean {scores.mean():.3f}, std {scores.std():.3f}, "
              f"min {scores.min():.3f}, max {scores.max():.3f}")
    best = max(results, key=lambda n: results[n]["mean"])
    means = [r["mean"] for r in results.values()]
    spread = max(r["std"] for r in results.values())
    print(f"  best mean: {best}; the means differ by {max(means) - min(means):.3f}, "
          + ("less than one standard deviation of the splits: with 105 training samples, depth adds parameters "
             "to fit, not information" if max(means) - min(means) < spread else "more than the spread of the splits"))
    if not args.no_plot:
        _figure_5(results, args.out / "iris_architectures.png")
    return results


def _figure_5(results, path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 3.2), layout="constrained")
    ax = fig.subplots()
    for position, (name, result) in enumerate(results.items()):
        scores = result["scores"]
        # the splits side by side, jittered a little so equal accuracies stay visible
        ax.scatter(position + np.linspace(-0.12, 0.12, len(scores)), scores, s=14, alpha=0.6)
        ax.errorbar(position, result["mean"], yerr=result["std"], fmt="o", color="black", capsize=6)
    ax.set(xticks=range(len(results)), xticklabels=list(results), ylabel="test accuracy",
           title="Iris: each split (dots), mean ± std (black)")
    fig.savefig(path, dpi=72)
    print(f"  figure: {path}")


# ---------------------------------------------------------------- 6. dropout

DROPOUT_RATES = (0.0, 0.2, 0.5, 0.8)


def exercise_6(args):
    heading(6, "dropout in a 2-64-64-2 ReLU network on 60 noisy moons (validation: 500 more)")
    X, y = make_moons(560, noise=0.35, random_state=0)
    X_train, y_train, X_val, y_val = X[:60], y[:60], X[60:], y[60:]
    epochs = 40 if args.quick else 200
    results, curves = {}, {}
    for rate in DROPOUT_RATES:
        xpnn.set_seed(0)  # the same initial weights for every rate
        layers = [xpnn.Dense(2, 64, activation="relu")]
        layers += [xpnn.Dropout(rate, seed=0)] if rate else []
        layers += [xpnn.Dense(64, 64, activation="relu")]
        layers += [xpnn.Dropout(rate, seed=1)] if rate else []
        model = xpnn.Model(*layers, xpnn.Dense(64, 2))
        history = model.fit(X_train, y_train, loss="cross_entropy", optimizer=xpnn.Adam(lr=0.01), epochs=epochs,
                            batch_size=None, validation_data=(X_val, y_val), verbose=0)
        # accuracy with dropout off (evaluate is inference), on both sets
        train = model.evaluate(X_train, y_train, metrics=["accuracy"])["accuracy"]
        val = model.evaluate(X_val, y_val, metrics=["accuracy"])["accuracy"]
        results[rate] = {"train": train, "val": val, "gap": train - val}
        curves[rate] = (history["accuracy"], history["val_accuracy"])
        print(f"  dropout {rate:<4g} training accuracy {train:.3f}, validation {val:.3f}, gap {train - val:+.3f}")
    gaps = [results[rate]["gap"] for rate in DROPOUT_RATES[1:]]
    print(f"  gap without dropout {results[0.0]['gap']:+.3f}, with dropout {min(gaps):+.3f} to {max(gaps):+.3f}: "
          + ("dropout narrows it (the network can no longer memorise the 60 points)"
             if max(gaps) < results[0.0]["gap"] else "dropout did not narrow it here"))
    if not args.no_plot:
        _figure_6(curves, args.out / "dropout.png")
    return results


def _figure_6(curves, path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 2.8), layout="constrained")
    for ax, (rate, (train, val)) in zip(fig.subplots(1, len(curves), sharey=True), curves.items()):
        epochs = np.arange(1, len(train) + 1)
        ax.plot(epochs, train, label="training (dropout on)")
        ax.plot(epochs, val, label="validation")
        ax.set(title=f"dropout {rate:g}", xlabel="epoch")
    fig.axes[0].set_ylabel("accuracy")
    fig.axes[0].legend(loc="lower right")
    fig.savefig(path, dpi=72)
    print(f"  figure: {path}")


# ---------------------------------------------------------------- 7. weight initialisation

INITIALISATIONS = {
    "zeros": "zeros",
    "Xavier": "xavier_normal",
    "He": "he_normal",
    "uniform[-1, 1]": functools.partial(xpnn.init.uniform, low=-1.0, high=1.0),
}


def exercise_7(args):
    width, depth = 100, 10
    heading(7, f"initialising a {depth}-layer network of width {width}: activations after one forward pass "
               "of 1000 standard-normal samples")
    X = xpnn.asarray(xpnn.backend.rng(0).normal(size=(1000, width)), dtype="float32")
    results, kept = {}, {}
    for activation in ("tanh", "relu"):
        for name, init in INITIALISATIONS.items():
            xpnn.set_seed(0)
            model = xpnn.Model(*[xpnn.Dense(width, width, activation=activation, init=init) for _ in range(depth)])
            outputs = [host(a) for a in xpnn.diagnostics.activations(model, X)]
            stds = [float(a.std()) for a in outputs]
            saturated = float(np.mean(np.abs(outputs[-1]) > 0.99)) if activation == "tanh" else None
            results[(activation, name)] = {"std": stds, "saturated_last": saturated}
            if activation == "tanh":
                kept[name] = model
            verdict = _verdict(stds, saturated)
            extra = f", {saturated:.0%} of last-layer units saturated (|a| > 0.99)" if saturated is not None else ""
            print(f"  {activation:<4} {name:<15} std of layers 1, 5, 10: {stds[0]:.3g}, {stds[4]:.3g}, "
                  f"{stds[9]:.3g}{extra}: {verdict}")
    if not args.no_plot:
        from xpnn import plot

        for name, model in kept.items():
            path = args.out / f"initialisation_{name.split('[')[0].lower()}.png"
            plot.activation_histograms(model, X, path=path)
            print(f"  figure: {path}")
    return results


def _verdict(stds, saturated):
    if stds[-1] == 0:
        return "every unit outputs 0 (and all get the same gradient: symmetry is never broken)"
    if saturated is not None and saturated > 0.5:
        return "saturated"
    if stds[-1] < 0.1 * stds[0]:
        return "vanishing"
    if stds[-1] > 10 * stds[0]:
        return "exploding"
    return "healthy"


EXERCISES = {1: exercise_1, 2: exercise_2, 3: exercise_3, 4: exercise_4, 5: exercise_5, 6: exercise_6,
             7: exercise_7}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", type=int, nargs="+", choices=sorted(EXERCISES), help="run only these exercises")
    parser.add_argument("--out", type=pathlib.Path, default=FIGURES, help="folder for the figures")
    parser.add_argument("--quick", action="store_true", help="fewer splits and epochs: a smoke run")
    parser.add_argument("--no-plot", action="store_true", help="skip the figures")
    args = parser.parse_args(argv)
    if not args.no_plot:
        args.out.mkdir(parents=True, exist_ok=True)
    return {number: EXERCISES[number](args) for number in (args.only or sorted(EXERCISES))}


if __name__ == "__main__":
    main()
