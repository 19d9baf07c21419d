"""scikit-learn's stochastic update rules, on any backend, so the same hyper-parameters mean
the same steps.

They differ from ``xpnn.optimizers`` in two ways that change the numbers: SGD's velocity holds
learning-rate-scaled steps (``v = momentum v - lr g``), so a rate that changes between epochs
(``invscaling``, ``adaptive``) changes only new contributions; Adam folds both bias corrections
into the rate (``lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)``) and adds ``epsilon`` to the
uncorrected ``sqrt(v)``. Parameters, velocities and moments are updated in place, in
scikit-learn's order of operations.
"""

from __future__ import annotations

import math

from ..backend import portable, unwrapped


class StochasticSolver:
    """The learning rate and its schedule: 'constant', 'invscaling' (``lr_init / (t + 1) **
    power_t`` after each epoch, t the samples seen) or 'adaptive' (divided by 5 when the loss
    stalls, until it falls below 1e-6)."""

    def __init__(self, params, learning_rate_init, schedule="constant", power_t=0.5):
        self.params = list(params)
        self.learning_rate_init = float(learning_rate_init)
        self.learning_rate = float(learning_rate_init)
        self.schedule, self.power_t = schedule, power_t

    # Velocities and moments pickle as host copies (xpnn/backend/pickling.py)
    def __getstate__(self) -> dict:
        return portable(dict(self.__dict__))

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(unwrapped(state))

    def iteration_ends(self, samples_seen: int) -> None:
        if self.schedule == "invscaling":
            self.learning_rate = self.learning_rate_init / (samples_seen + 1) ** self.power_t

    def trigger_stopping(self) -> tuple[bool, str]:
        """(stop, what happens) when the loss or validation score stopped improving."""
        if self.schedule != "adaptive":
            return True, "Stopping."
        if self.learning_rate <= 1e-6:
            return True, "Learning rate too small. Stopping."
        self.learning_rate /= 5.0
        return False, f"Setting learning rate to {self.learning_rate:f}"


class SGDSolver(StochasticSolver):
    def __init__(self, params, learning_rate_init, schedule, momentum, nesterov, power_t):
        super().__init__(params, learning_rate_init, schedule, power_t)
        self.momentum, self.nesterov = momentum, nesterov
        self.velocities = None

    def update(self, xp, grads):
        if self.velocities is None:
            self.velocities = [xp.zeros_like(p.value) for p in self.params]
        momentum, lr = self.momentum, self.learning_rate
        for p, v, g in zip(self.params, self.velocities, grads):
            v *= momentum
            v -= lr * g
            p.value += momentum * v - lr * g if self.nesterov else v


class AdamSolver(StochasticSolver):
    def __init__(self, params, learning_rate_init, beta_1, beta_2, epsilon):
        super().__init__(params, learning_rate_init)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.t = 0
        self.ms = self.vs = None

    def update(self, xp, grads):
        if self.ms is None:
            self.ms = [xp.zeros_like(p.value) for p in self.params]
            self.vs = [xp.zeros_like(p.value) for p in self.params]
        self.t += 1
        b1, b2 = self.beta_1, self.beta_2
        self.learning_rate = self.learning_rate_init * math.sqrt(1 - b2 ** self.t) / (1 - b1 ** self.t)
        for p, m, v, g in zip(self.params, self.ms, self.vs, grads):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            p.value += (-self.learning_rate * m) / (xp.sqrt(v) + self.epsilon)
