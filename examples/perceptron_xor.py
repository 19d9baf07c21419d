"""The perceptron learns any linearly separable problem and never XOR; one hidden layer solves it.

    python examples/perceptron_xor.py           # figure in examples/figures/perceptron_xor.png
    python examples/perceptron_xor.py --quick   # fewer restarts of the 2-2-1 network

From "Neural Networks Fundamentals" (shared/seeds/003): Rosenblatt's perceptron (a step
activation and the rule w += lr (y - ŷ) x on each mistake) is guaranteed to converge on linearly
separable data, but cannot solve XOR, "which motivated the development of multilayer networks".
Three acts: ``xpnn.Perceptron`` on two separable Gaussian clouds (it stops at the first epoch
without a mistake), the same rule on XOR's four points (it warns after max_iter epochs), and a
2-2-1 network (tanh hidden layer, logistic output, binary cross-entropy, Adam) on XOR, restarted
from several random initialisations: with only two hidden units some starts end in a local
minimum that gets 3 of 4 points right, the others solve it.
"""

from __future__ import annotations

import argparse
import pathlib
import warnings

import numpy as np

import xpnn
from xpnn.training.perceptron import ConvergenceWarning

FIGURES = pathlib.Path(__file__).parent / "figures"
XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0, 1, 1, 0])


def clouds(n=100, seed=0):
    """Two Gaussian clouds (std 0.5) around (-1, -1) and (1, 1.5): separable with a wide gap."""
    generator = xpnn.backend.rng(seed)
    X = np.concatenate([generator.normal([-1.0, -1.0], 0.5, size=(n // 2, 2)),
                        generator.normal([1.0, 1.5], 0.5, size=(n - n // 2, 2))])
    return X, np.repeat([0, 1], [n // 2, n - n // 2])


def perceptron_on_clouds():
    X, y = clouds()
    model = xpnn.Perceptron(random_state=0).fit(X, y)
    print(f"perceptron on 2 separable clouds ({len(y)} points): converged after {model.n_iter_} epochs, "
          f"mistakes per epoch {model.mistakes_}, training accuracy {model.score(X, y):.2f}")
    return model, X, y


def perceptron_on_xor(max_iter=100):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model = xpnn.Perceptron(max_iter=max_iter, random_state=0).fit(XOR_X, XOR_Y)
    print(f"perceptron on XOR: converged {model.converged_} after {model.n_iter_} epochs, "
          f"accuracy {model.score(XOR_X, XOR_Y):.2f}, predictions {xpnn.to_numpy(model.predict(XOR_X)).tolist()}")
    for warning in caught:
        print(f"  {warning.category.__name__}: {warning.message}")
    return model


def mlp_on_xor(restarts=10):
    """The 2-2-1 network from ``restarts`` random starts; returns (solved count, a solving model)."""
    solved, first = 0, None
    for seed in range(restarts):
        xpnn.set_seed(seed)  # the initial weights: a different start for each restart
        model = xpnn.Model(xpnn.Dense(2, 2, activation="tanh"), xpnn.Dense(2, 1))
        history = model.fit(XOR_X, XOR_Y[:, None].astype(float), loss="binary_cross_entropy",
                            optimizer=xpnn.Adam(lr=0.1), epochs=300, batch_size=4, verbose=0, seed=seed)
        predicted = (xpnn.to_numpy(model.predict(XOR_X))[:, 0] > 0).astype(int)  # logit > 0: p > 0.5
        ok = bool((predicted == XOR_Y).all())
        solved += ok
        first = model if ok and first is None else first
        print(f"  2-2-1 MLP, start {seed}: predictions {predicted.tolist()}, final loss "
              f"{history['loss'][-1]:.4f}{'  solved' if ok else ''}")
    print(f"2-2-1 MLP on XOR: solved from {solved} of {restarts} random starts")
    return solved, first


def figure(panels, path):
    """panels: (title, predict function on an (n, 2) host array -> 0/1 labels, X, y)."""
    from matplotlib.figure import Figure  # the object API: no pyplot, no global state

    fig = Figure(figsize=(10, 3.4), layout="constrained")
    for ax, (title, predict, X, y) in zip(fig.subplots(1, len(panels)), panels):
        low, high = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
        gx, gy = np.meshgrid(np.linspace(low[0], high[0], 150), np.linspace(low[1], high[1], 150))
        grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
        ax.contourf(gx, gy, predict(grid).reshape(gx.shape), levels=[-0.5, 0.5, 1.5],
                    colors=["#c6dbef", "#fdd0a2"])
        ax.scatter(X[:, 0], X[:, 1], c=np.where(y == 1, "#e6550d", "#3182bd"), edgecolors="k", s=30)
        ax.set(title=title, xlabel="x₁", ylabel="x₂")
    fig.savefig(path, dpi=72)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=pathlib.Path, default=FIGURES, help="folder for the figure")
    parser.add_argument("--quick", action="store_true", help="4 restarts of the MLP instead of 10")
    parser.add_argument("--no-plot", action="store_true", help="skip the figure")
    args = parser.parse_args(argv)
    clouds_model, X, y = perceptron_on_clouds()
    xor_model = perceptron_on_xor()
    solved, mlp = mlp_on_xor(4 if args.quick else 10)
    if not args.no_plot:
        args.out.mkdir(parents=True, exist_ok=True)
        panels = [("perceptron, separable", lambda g: xpnn.to_numpy(clouds_model.predict(g)), X, y),
                  ("perceptron, XOR", lambda g: xpnn.to_numpy(xor_model.predict(g)), XOR_X, XOR_Y)]
        if mlp is not None:
            panels.append(("2-2-1 MLP, XOR",
                           lambda g: (xpnn.to_numpy(mlp.predict(g))[:, 0] > 0).astype(int), XOR_X, XOR_Y))
        figure(panels, args.out / "perceptron_xor.png")
        print(f"figure: {args.out / 'perceptron_xor.png'}")
    return {"clouds": clouds_model, "xor": xor_model, "solved": solved}


if __name__ == "__main__":
    main()
