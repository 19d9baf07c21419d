"""Universal approximation: one hidden layer, wider and wider, fitting sin(x); a kink, ReLU vs tanh.

    python examples/universal_approximation.py           # figure in examples/figures/
    python examples/universal_approximation.py --quick   # fewer widths and epochs

"A neural network with a single hidden layer containing a finite number of neurons can
approximate any continuous function to arbitrary accuracy, given enough neurons" (the founding
notes' chapter, after Cybenko 1989 and Hornik 1991). Two experiments on 200 points of
x in [-π, π] (``xpnn.datasets.make_regression_1d``, no noise), each network 1-w-1 trained
full-batch with Adam (lr 0.02) on MSE from the same seed:

1. sin(x) with w = 1, 2, 4, 8, 16, 32 tanh units: the training error by width.
2. |x|, a kink at 0, with ReLU units against tanh units: two ReLUs represent it exactly
   (|x| = relu(x) + relu(-x)), while smooth tanh units can only round the corner.

The theorem promises that a good approximation exists, not that gradient descent finds it in a
given number of epochs: past some width the error printed is the optimiser's, not the network's.
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np

import xpnn
from xpnn.datasets import make_regression_1d

FIGURES = pathlib.Path(__file__).parent / "figures"


def fit_one_hidden_layer(x, y, width, activation, epochs):
    xpnn.set_seed(0)  # the same draw of initial weights for every width and activation
    model = xpnn.Model(xpnn.Dense(1, width, activation=activation), xpnn.Dense(width, 1))
    history = model.fit(x, y, loss="mse", optimizer=xpnn.Adam(lr=0.02), epochs=epochs, batch_size=None,
                        verbose=0)
    return model, history["loss"][-1]


def curve(model, grid):
    return np.asarray(xpnn.to_numpy(model.predict(grid)))[:, 0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=pathlib.Path, default=FIGURES, help="folder for the figure")
    parser.add_argument("--quick", action="store_true", help="widths 1, 4, 16 and 300 epochs: a smoke run")
    parser.add_argument("--no-plot", action="store_true", help="skip the figure")
    args = parser.parse_args(argv)
    epochs = 300 if args.quick else 1500
    widths = (1, 4, 16) if args.quick else (1, 2, 4, 8, 16, 32)
    grid = np.linspace(-np.pi, np.pi, 400)[:, None]

    print(f"sin(x), one hidden layer of tanh units, {epochs} epochs:")
    x, y = make_regression_1d(200, noise=0.0, function="sin", random_state=0)
    sin_fits, sin_errors = {}, {}
    for width in widths:
        model, mse = fit_one_hidden_layer(x, y, width, "tanh", epochs)
        sin_fits[width], sin_errors[width] = curve(model, grid), mse
        print(f"  width {width:>2}: training MSE {mse:.2e}")

    print(f"|x|, a kink at 0, {epochs} epochs:")
    x, y = make_regression_1d(200, noise=0.0, function="abs", random_state=0)
    kink_fits, kink_errors = {}, {}
    for activation in ("relu", "tanh"):
        for width in (2, 8):
            model, mse = fit_one_hidden_layer(x, y, width, activation, epochs)
            kink_fits[activation, width], kink_errors[activation, width] = curve(model, grid), mse
            print(f"  {activation:<4} width {width}: training MSE {mse:.2e}")
    ratio = kink_errors["tanh", 2] / kink_errors["relu", 2]
    print(f"  with 2 units, tanh's error is {ratio:.0f}x ReLU's: relu(x) + relu(-x) is |x| exactly")

    if not args.no_plot:
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / "universal_approximation.png"
        figure(grid[:, 0], sin_fits, kink_fits, path)
        print(f"figure: {path}")
    return {"sin": sin_errors, "kink": kink_errors}


def figure(grid, sin_fits, kink_fits, path):
    from matplotlib.figure import Figure  # the object API: no pyplot, no global state

    fig = Figure(figsize=(10, 3.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.plot(grid, np.sin(grid), color="black", linewidth=3, alpha=0.3, label="sin(x)")
    for width, fitted in sin_fits.items():
        left.plot(grid, fitted, label=f"{width} tanh units")
    left.set(title="one hidden layer, growing width", xlabel="x")
    left.legend(fontsize="small")
    right.plot(grid, np.abs(grid), color="black", linewidth=3, alpha=0.3, label="|x|")
    for (activation, width), fitted in kink_fits.items():
        right.plot(grid, fitted, "-" if activation == "relu" else "--", label=f"{width} {activation} units")
    right.set(title="a kink: ReLU vs tanh", xlabel="x", xlim=(-1.5, 1.5), ylim=(-0.2, 1.6))
    right.legend(fontsize="small")
    fig.savefig(path, dpi=72)


if __name__ == "__main__":
    main()
