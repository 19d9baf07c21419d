"""The worked examples of the founding notes (shared/seeds), reproduced with the library's layers."""

import math

import numpy as np
import pytest

import xpnn

from .helpers import on_backend


def test_single_sigmoid_neuron_matches_the_seed_trainer(xp):
    """Seed 000: w=0.8, b=-0.3, x=2, target 0, lr 0.5, C = 0.5 (a - y)^2, 500 iterations."""
    w, b = 0.8, -0.3  # the notes' trainer, written out: the reference
    for _ in range(500):
        a = 1 / (1 + math.exp(-(2.0 * w + b)))
        delta = (a - 0.0) * a * (1 - a)
        w, b = w - 0.5 * delta * 2.0, b - 0.5 * delta

    neuron = xpnn.Dense(1, 1, activation="sigmoid").astype("float64")
    neuron.weight.value = on_backend(np.array([[0.8]]))
    neuron.bias.value = on_backend(np.array([-0.3]))
    x, y = on_backend(np.array([[2.0]])), on_backend(np.array([[0.0]]))
    for _ in range(500):
        neuron.zero_grad()
        out, backward = neuron.forward(x)
        _, loss_backward = xpnn.MSE().forward(out, y)
        backward(0.5 * loss_backward())  # MSE is mean (a-y)^2; the notes' cost is half that
        for p in neuron.parameters():
            p.value = p.value - 0.5 * p.grad
    assert float(neuron.weight.value[0, 0]) == pytest.approx(w, rel=1e-12)
    assert float(neuron.bias.value[0]) == pytest.approx(b, rel=1e-12)
    assert float(neuron(x)[0, 0]) < 0.1  # it learned to output (nearly) 0


def test_manual_forward_of_a_2_3_1_relu_network(xp):
    """Exercise 1 of seed 003: a 2-3-1 ReLU network on input [1, 2], by hand and by xpnn."""
    hidden = xpnn.Dense(2, 3, activation="relu").astype("float64")
    output = xpnn.Dense(3, 1).astype("float64")
    w1 = np.array([[0.5, -1.0, 0.25], [0.5, 0.2, -0.75]])
    b1 = np.array([0.1, 0.0, 0.3])
    w2 = np.array([[1.0], [-2.0], [0.5]])
    b2 = np.array([0.05])
    for layer, (w, b) in ((hidden, (w1, b1)), (output, (w2, b2))):
        layer.weight.value, layer.bias.value = on_backend(w), on_backend(b)
    by_hand = np.maximum(np.array([1.0, 2.0]) @ w1 + b1, 0) @ w2 + b2
    got = xpnn.Sequential(hidden, output)(on_backend(np.array([[1.0, 2.0]])))
    assert float(got[0, 0]) == pytest.approx(float(by_hand[0]))
