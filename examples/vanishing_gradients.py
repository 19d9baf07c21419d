"""Vanishing gradients: a 10-layer sigmoid network against the same with ReLU and He init.

    python examples/vanishing_gradients.py           # figures in examples/figures/
    python examples/vanishing_gradients.py --quick   # fewer epochs

"The loss metric remains completely frozen during early training iterations ... check gradient
magnitudes across layers" (the founding notes' troubleshooting table, shared/seeds/000). Two
networks of ten Dense layers (2-32-...-32-2) learn 500 noisy moons with plain SGD (lr 0.1,
batch 32) from the same seed, each watched by ``xpnn.TrainingMonitor``: sigmoid hidden units with
Xavier initialisation (each sigmoid multiplies the backward signal by at most 0.25), then ReLU
units with He initialisation. The monitor's warnings (``xpnn.TrainingHealthWarning``, with
``kind``, ``layer`` and ``epoch``) are shown as they come for the first epoch and counted after;
``xpnn.plot.gradient_flow`` draws each network's per-layer gradient norms.
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import warnings

import numpy as np

import xpnn
from xpnn.datasets import make_moons

FIGURES = pathlib.Path(__file__).parent / "figures"
NETWORKS = {"sigmoid": ("sigmoid", "xavier_normal"), "relu": ("relu", "he_normal")}


def deep_network(activation, init, depth=10, width=32):
    xpnn.set_seed(0)  # the same draw for both networks (scaled by their initialisers)
    layers = [xpnn.Dense(2, width, activation=activation, init=init)]
    layers += [xpnn.Dense(width, width, activation=activation, init=init) for _ in range(depth - 2)]
    return xpnn.Model(*layers, xpnn.Dense(width, 2))


def train(name, X, y, epochs):
    activation, init = NETWORKS[name]
    model = deep_network(activation, init)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", xpnn.TrainingHealthWarning)
        history = model.fit(X, y, loss="cross_entropy", optimizer=xpnn.SGD(lr=0.1), epochs=epochs, batch_size=32,
                            verbose=0, seed=0, callbacks=[xpnn.TrainingMonitor()])
    health = [w.message for w in caught if isinstance(w.message, xpnn.TrainingHealthWarning)]
    print(f"\n{name} hidden units, {init} initialisation, {epochs} epochs: loss {history['loss'][0]:.3f} -> "
          f"{history['loss'][-1]:.3f}, training accuracy {history['accuracy'][-1]:.3f}")
    ratios = np.array(history.diagnostics["grad_ratio"][-1])
    print("  gradient norm of each layer over the output layer's, last epoch: "
          + " ".join(f"{r:.1e}" for r in ratios))
    first_epoch = [w for w in health if w.epoch == health[0].epoch] if health else []
    for warning in first_epoch:
        print(f"  TrainingHealthWarning (kind {warning.kind!r}): {warning}")
    counts = collections.Counter(w.kind for w in health)
    print(f"  {len(health)} warnings in all"
          + (": " + ", ".join(f"{count} {kind}" for kind, count in counts.items()) if counts else " (a healthy network)"))
    return model, history, health


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=pathlib.Path, default=FIGURES, help="folder for the figures")
    parser.add_argument("--quick", action="store_true", help="5 epochs instead of 30: a smoke run")
    parser.add_argument("--no-plot", action="store_true", help="skip the figures")
    args = parser.parse_args(argv)
    X, y = make_moons(500, noise=0.2, random_state=0)
    epochs = 5 if args.quick else 30
    results = {name: train(name, X, y, epochs) for name in NETWORKS}
    if not args.no_plot:
        from xpnn import plot  # matplotlib, only when drawing

        args.out.mkdir(parents=True, exist_ok=True)
        for name, (_, history, _) in results.items():
            path = args.out / f"gradient_flow_{name}.png"
            plot.gradient_flow(history).savefig(path, dpi=60)  # small enough to commit
            print(f"figure: {path}")
    return {name: {"history": history, "warnings": health} for name, (_, history, health) in results.items()}


if __name__ == "__main__":
    main()
