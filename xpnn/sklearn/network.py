"""The network behind the estimators: xpnn layers laid out as scikit-learn's MLP, its
initialisation, and the output activation and loss of each kind of target.

The last Dense layer has no activation: the heads below take its raw output ``z`` and
compute the loss from it in a numerically stable form (log-softmax, softplus) and the
gradient dL/dz, which for these canonical pairs is ``(output - y) * weight / sum(weight)``,
exactly scikit-learn's ``deltas[last]``.
"""

from __future__ import annotations

import math

from ..backend import asarray
from ..nn import activations, special
from ..nn.layers import BatchNorm, Dense, Dropout, Sequential

SKLEARN_ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}


def hidden_activation(name: str):
    """The layer for scikit-learn's names (identity, logistic, tanh, relu) or any xpnn one."""
    return activations.get(SKLEARN_ACTIVATIONS.get(name, name))


def build_network(layer_units, activation, random_state, dtype, *, dropout=0.0, batch_norm=False):
    """Sequential of Dense layers with scikit-learn's Glorot-uniform initialisation, drawn from
    ``random_state`` (a NumPy RandomState) in its order: each layer's weights, then its bias.
    The same random_state gives the same initial weights as scikit-learn's MLP; dropout seeds
    are drawn after them."""
    factor = 2.0 if activation == "logistic" else 6.0
    blocks = []
    last = len(layer_units) - 2
    for index, (fan_in, fan_out) in enumerate(zip(layer_units[:-1], layer_units[1:])):
        bound = math.sqrt(factor / (fan_in + fan_out))
        weight = random_state.uniform(-bound, bound, (fan_in, fan_out))
        bias = random_state.uniform(-bound, bound, fan_out)
        is_hidden = index < last
        dense = Dense(fan_in, fan_out, init="zeros", dtype=dtype,
                      activation=hidden_activation(activation) if is_hidden and not batch_norm else None)
        dense.weight.value = asarray(weight, dtype=dtype)
        dense.bias.value = asarray(bias, dtype=dtype)
        blocks.append([dense])
        if is_hidden and batch_norm:
            blocks[-1] += [BatchNorm(fan_out, dtype=dtype), hidden_activation(activation)]
    if dropout:
        first_seed = int(random_state.randint(2**31))
        for index, block in enumerate(blocks[:-1]):
            block.append(Dropout(dropout, seed=first_seed + index))
    return Sequential(*(layer for block in blocks for layer in block))


def dense_layers(network) -> list[Dense]:
    return [layer for layer in network.layers if isinstance(layer, Dense)]


# ---------------------------------------------------------------- output heads

class Head:
    """An output activation (scikit-learn's ``out_activation_`` name) and its loss."""

    name: str

    def output(self, xp, z):
        raise NotImplementedError

    def loss_and_delta(self, xp, z, y, weight, weight_sum):
        """(the batch's weighted mean loss as a 0-d array, dL/dz); ``weight`` is None or (n, 1)."""
        raise NotImplementedError


def _weighted_sum(xp, per_sample, weight):
    return xp.sum(per_sample if weight is None else per_sample * weight)


class SoftmaxHead(Head):
    """Several exclusive classes: softmax and the log loss (cross-entropy)."""

    name = "softmax"

    def output(self, xp, z):
        return activations.softmax.value(xp, z)

    def loss_and_delta(self, xp, z, y, weight, weight_sum):
        log_p = activations.log_softmax.value(xp, z)
        loss = -_weighted_sum(xp, y * log_p, weight) / weight_sum
        delta = xp.exp(log_p) - y
        return loss, (delta if weight is None else delta * weight) / weight_sum


class LogisticHead(Head):
    """Two classes or several independent labels: a sigmoid per output and the binary log
    loss, summed over the outputs."""

    name = "logistic"

    def output(self, xp, z):
        return special.sigmoid(xp, z)

    def loss_and_delta(self, xp, z, y, weight, weight_sum):
        # -[y log s(z) + (1 - y) log(1 - s(z))] = softplus(z) - y z, exact for any z
        softplus = activations.softplus.value(xp, z)
        loss = _weighted_sum(xp, softplus - y * z, weight) / weight_sum
        delta = self.output(xp, z) - y
        return loss, (delta if weight is None else delta * weight) / weight_sum


class IdentityHead(Head):
    """Regression with the half squared error, averaged over samples (weighted) and outputs.
    Its gradient is the loss's own: for n_outputs > 1 that is 1/n_outputs of the gradient
    scikit-learn steps with (its delta ignores the mean over outputs)."""

    name = "identity"

    def output(self, xp, z):
        return z

    def loss_and_delta(self, xp, z, y, weight, weight_sum):
        outputs = z.shape[1]
        residual = z - y
        loss = 0.5 * _weighted_sum(xp, residual * residual, weight) / (weight_sum * outputs)
        return loss, (residual if weight is None else residual * weight) / (weight_sum * outputs)


class ExpHead(Head):
    """Poisson regression: mean exp(z) and the half Poisson deviance, summed over outputs."""

    name = "exp"

    def output(self, xp, z):
        return xp.exp(z)

    def loss_and_delta(self, xp, z, y, weight, weight_sum):
        mean = xp.exp(z)
        safe_y = xp.where(y > 0, y, xp.ones_like(y))
        per_entry = xp.where(y > 0, y * xp.log(safe_y), xp.zeros_like(y)) - y * z - y + mean
        loss = _weighted_sum(xp, per_entry, weight) / weight_sum
        delta = mean - y
        return loss, (delta if weight is None else delta * weight) / weight_sum


HEADS = {head.name: head for head in (SoftmaxHead(), LogisticHead(), IdentityHead(), ExpHead())}


class HeadLoss:
    """An output head as the loss of ``xpnn.training.forward_backward``: ``forward(z, y)``
    returns the head's weighted mean loss and a closure giving dL/dz, the contract of
    ``xpnn.Loss``. ``weight`` is None or a (samples, 1) column summing to ``weight_sum``."""

    def __init__(self, head: Head, xp, weight, weight_sum):
        self.head, self.xp, self.weight, self.weight_sum = head, xp, weight, weight_sum

    def forward(self, z, y):
        loss, delta = self.head.loss_and_delta(self.xp, z, y, self.weight, self.weight_sum)
        return loss, lambda: delta
