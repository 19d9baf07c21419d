"""One sigmoid neuron trained by gradient descent: the founding notes' trainer, with xpnn's layer.

    python examples/single_neuron.py               # 500 steps, figure in examples/figures/
    python examples/single_neuron.py --out /tmp/f  # the figure elsewhere

The notes (shared/seeds/000, ``ActivationOptimizationEngine``) train a = sigmoid(w x + b) with
w = 0.8, b = -0.3 on the one sample x = 2, target y = 0, cost C = 0.5 (a - y)^2, learning rate
0.5, for 500 steps, and print the cost (before the step) and the weight and bias (after it) at
step 1 and every 50 steps, then the final prediction. Here the forward pass and the delta rule
are xpnn's ``Dense(1, 1, activation="sigmoid")``; the notes' arithmetic, written out in plain
Python, is checked against it at every step. Then ``Model.fit`` takes the same 500 steps (xpnn's
MSE is mean (a - y)^2, twice the notes' cost, so SGD's rate is halved) and lands on the same w, b.
"""

from __future__ import annotations

import argparse
import math
import pathlib

import numpy as np

import xpnn

W0, B0, X0, TARGET, LR, STEPS = 0.8, -0.3, 2.0, 0.0, 0.5, 500
FIGURES = pathlib.Path(__file__).parent / "figures"


def notes_step(w, b):
    """One step of the notes' engine in plain Python: (cost before the step, w, b after it)."""
    a = 1.0 / (1.0 + math.exp(-(X0 * w + b)))
    delta = (a - TARGET) * a * (1.0 - a)  # dC/dz = dC/da * da/dz
    return 0.5 * (a - TARGET) ** 2, w - LR * delta * X0, b - LR * delta


def neuron():
    layer = xpnn.Dense(1, 1, activation="sigmoid").astype("float64")
    layer.weight.value = xpnn.asarray(np.array([[W0]]), dtype="float64")
    layer.bias.value = xpnn.asarray(np.array([B0]), dtype="float64")
    return layer


def train(quiet=False):
    """The notes' loop with xpnn's layer; returns the per-step (cost, w, b) as a (STEPS, 3) array."""
    layer = neuron()
    x = xpnn.asarray(np.array([[X0]]), dtype="float64")
    y = xpnn.asarray(np.array([[TARGET]]), dtype="float64")
    half_mse = xpnn.MSE()
    w_ref, b_ref, worst = W0, B0, 0.0
    trace = []
    if not quiet:
        print("--- Starting Non-Linear Activation and Backpropagation Training Loop ---")
        print(f"Engine initialized with Weight: {W0:.4f}, Bias: {B0:.4f}")
        print("\n--- Executing Parameter Tuning Epochs ---")
    for step in range(1, STEPS + 1):
        layer.zero_grad()
        a, backward = layer.forward(x)
        mse, loss_backward = half_mse.forward(a, y)
        backward(0.5 * loss_backward())  # the notes' cost is half of MSE's mean (a - y)^2
        for p in layer.parameters():
            p.value = p.value - LR * p.grad
        cost, w, b = 0.5 * float(mse), float(layer.weight.value[0, 0]), float(layer.bias.value[0])
        trace.append((cost, w, b))
        ref_cost, w_ref, b_ref = notes_step(w_ref, b_ref)
        worst = max(worst, abs(cost - ref_cost), abs(w - w_ref), abs(b - b_ref))
        if not quiet and (step % 50 == 0 or step == 1):
            print(f"Epoch [{step:3d}] -- Objective Loss: {cost:.6f} -- Weight Matrix: {w:.4f} -- "
                  f"Bias Vector: {b:.4f}")
    prediction = float(layer(x)[0, 0])
    if not quiet:
        print("\n--- Final Optimization Verification Summary ---")
        print(f"Target Prediction Goal: {TARGET:.4f}")
        print(f"Model Prediction Output: {prediction:.4f}")
        print(f"\nlargest difference from the notes' arithmetic over {STEPS} steps: {worst:.1e}")
    return np.array(trace), prediction, worst


def train_with_fit():
    """The same 500 steps through Model.fit: SGD(lr=0.25) on MSE = SGD(lr=0.5) on 0.5 (a - y)^2."""
    model = xpnn.Model(neuron())
    model.fit(np.array([[X0]]), np.array([[TARGET]]), loss="mse", optimizer=xpnn.SGD(lr=LR / 2),
              epochs=STEPS, batch_size=1, shuffle=False, metrics=[], verbose=0)
    layer = model.layers[0]
    return float(layer.weight.value[0, 0]), float(layer.bias.value[0])


def figure(trace, path):
    from matplotlib.figure import Figure  # the object API: no pyplot, no global state

    fig = Figure(figsize=(8, 3), layout="constrained")
    left, right = fig.subplots(1, 2)
    steps = np.arange(1, len(trace) + 1)
    left.plot(steps, trace[:, 0])
    left.set(xlabel="step", ylabel="cost 0.5 (a - y)²", yscale="log", title="cost")
    right.plot(steps, trace[:, 1], label="w")
    right.plot(steps, trace[:, 2], label="b")
    right.set(xlabel="step", title="weight and bias")
    right.legend()
    fig.suptitle("one sigmoid neuron, x = 2, target 0, lr 0.5")
    fig.savefig(path, dpi=80)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=pathlib.Path, default=FIGURES, help="folder for the figure")
    parser.add_argument("--quick", action="store_true", help="accepted for symmetry: 500 steps take a second")
    parser.add_argument("--no-plot", action="store_true", help="skip the figure")
    args = parser.parse_args(argv)
    trace, prediction, worst = train()
    w, b = train_with_fit()
    print(f"Model.fit with SGD(lr=0.25) on MSE, 500 steps: Weight {w:.4f}, Bias {b:.4f} "
          f"(the loop above: {trace[-1, 1]:.4f}, {trace[-1, 2]:.4f})")
    if not args.no_plot:
        args.out.mkdir(parents=True, exist_ok=True)
        figure(trace, args.out / "single_neuron.png")
        print(f"figure: {args.out / 'single_neuron.png'}")
    return {"trace": trace, "prediction": prediction, "worst": worst, "fit": (w, b)}


if __name__ == "__main__":
    main()
