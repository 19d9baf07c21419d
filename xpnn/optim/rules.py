"""Update rules: SGD (momentum, Nesterov), RMSprop, Adam and AdamW (PyTorch's semantics), on
top of the optimizer base (clipping, weight decay, state dicts). The elementwise arithmetic of
each update is an ``Ops`` method (xpnn/backend/ops.py), where a backend can make it faster.
"""

from __future__ import annotations

import math

from ..backend import ops_for
from ..utils.validation import check_bool, check_number
from .optimizer import OPTIMIZERS, Optimizer, lr_argument


class SGD(Optimizer):
    """PyTorch's SGD: buf = momentum * buf + grad (buf = grad at the first step); the update
    is buf, or grad + momentum * buf with Nesterov; value -= lr * update."""

    slot_names = ("momentum_buffer",)

    def __init__(self, lr=None, momentum=0.0, nesterov=False, *, learning_rate=None,
                 weight_decay=0.0, clip_norm=None, clip_value=None, foreach=None):
        super().__init__(lr_argument(lr, learning_rate, 0.01, "SGD"), weight_decay=weight_decay,
                         clip_norm=clip_norm, clip_value=clip_value, foreach=foreach)
        self.momentum = check_number(momentum, "momentum", "SGD", low=0, high=1, high_open=True)
        check_bool(nesterov, "nesterov", "SGD")
        if nesterov and self.momentum == 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0 (e.g. momentum=0.9)")
        self.nesterov = nesterov

    def _hyper_parameters(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    def _update(self, xp, p, grad, state, lr, step):
        if self.momentum == 0:
            p.value -= lr * grad
            return
        buf = state.get("momentum_buffer")
        if buf is None:  # PyTorch starts the buffer at the first gradient
            buf = state["momentum_buffer"] = xp.asarray(grad, copy=True)
            update = grad + self.momentum * buf if self.nesterov else buf
        else:
            update = ops_for(xp).sgd_momentum(buf, grad, momentum=self.momentum, nesterov=self.nesterov)
        p.value -= lr * update


class RMSprop(Optimizer):
    """square_avg = rho * square_avg + (1 - rho) grad^2, update = grad / (sqrt(square_avg) + eps);
    with momentum, buf = momentum * buf + update and value -= lr * buf, else
    value -= lr * update."""

    slot_names = ("square_avg", "momentum_buffer")

    def __init__(self, lr=None, rho=0.9, eps=1e-8, momentum=0.0, *, learning_rate=None,
                 weight_decay=0.0, clip_norm=None, clip_value=None, foreach=None):
        super().__init__(lr_argument(lr, learning_rate, 0.001, "RMSprop"), weight_decay=weight_decay,
                         clip_norm=clip_norm, clip_value=clip_value, foreach=foreach)
        self.rho = check_number(rho, "rho", "RMSprop", low=0, high=1, high_open=True)
        self.eps = check_number(eps, "eps", "RMSprop", low=0, low_open=True)
        self.momentum = check_number(momentum, "momentum", "RMSprop", low=0, high=1, high_open=True)

    def _hyper_parameters(self):
        return {"rho": self.rho, "eps": self.eps, "momentum": self.momentum}

    def _update(self, xp, p, grad, state, lr, step):
        if "square_avg" not in state:
            state["square_avg"] = xp.zeros_like(p.value)
        update = ops_for(xp).rmsprop_step(state["square_avg"], grad, rho=self.rho, eps=self.eps)
        if self.momentum:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = xp.zeros_like(p.value)
            buf = state["momentum_buffer"]
            buf *= self.momentum
            buf += update
            update = buf
        p.value -= lr * update


class Adam(Optimizer):
    """m = beta_1 m + (1 - beta_1) grad, v = beta_2 v + (1 - beta_2) grad^2, and
    value -= lr * m_hat / (sqrt(v_hat) + eps) with m_hat = m / (1 - beta_1^t),
    v_hat = v / (1 - beta_2^t).

    t counts the updates THIS parameter has received (as in PyTorch), which equals the
    optimizer's step count unless the parameter was frozen or gradient-less for a while: a
    layer unfrozen late then starts with correct bias correction instead of oversized steps.
    """

    slot_names = ("m", "v")

    def __init__(self, lr=None, beta_1=0.9, beta_2=0.999, eps=1e-8, *, learning_rate=None,
                 weight_decay=0.0, clip_norm=None, clip_value=None, foreach=None):
        super().__init__(lr_argument(lr, learning_rate, 0.001, "Adam"), weight_decay=weight_decay,
                         clip_norm=clip_norm, clip_value=clip_value, foreach=foreach)
        where = type(self).__name__
        self.beta_1 = check_number(beta_1, "beta_1", where, low=0, high=1, high_open=True)
        self.beta_2 = check_number(beta_2, "beta_2", where, low=0, high=1, high_open=True)
        self.eps = check_number(eps, "eps", where, low=0, low_open=True)

    def _hyper_parameters(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "eps": self.eps}

    def _update(self, xp, p, grad, state, lr, step):
        if "m" not in state:
            state["m"], state["v"] = xp.zeros_like(p.value), xp.zeros_like(p.value)
        self._decay((p,), lr)
        p.value -= self._step_size(xp, state["m"], state["v"], grad, lr, step)

    def _update_multi_tensor(self, xp, group, params, grad, lr, step):
        if not group.buffers:
            group.buffers = {"m": xp.zeros_like(grad), "v": xp.zeros_like(grad)}
        self._decay(params, lr)
        update = self._step_size(xp, group.buffers["m"], group.buffers["v"], grad, lr, step)
        for p, piece in zip(params, group.pieces(update)):
            p.value -= piece

    def _decay(self, params, lr):
        """AdamW's decoupled decay, value *= 1 - lr * weight_decay; nothing for Adam."""
        if self.decoupled_weight_decay and self.weight_decay:
            for p in params:
                p.value *= 1.0 - lr * self.weight_decay

    def _step_size(self, xp, m, v, grad, lr, step):
        """Move the moments m and v (in place) and return the step to subtract; the array
        returned may be the Ops' scratch memory, valid until its next call."""
        # m / (sqrt(v) / sqrt(bc_2) + eps) * lr / bc_1 as PyTorch writes it, multiplied through
        # by sqrt(bc_2) so that the bias corrections are scalars and cost no array operation
        root_bc_2 = math.sqrt(1.0 - self.beta_2 ** step)
        eps, scale = self.eps * root_bc_2, lr * root_bc_2 / (1.0 - self.beta_1 ** step)
        return ops_for(xp).adam_step(m, v, grad, beta_1=self.beta_1, beta_2=self.beta_2, eps=eps, scale=scale)


class AdamW(Adam):
    """Adam with decoupled weight decay (PyTorch semantics): value *= 1 - lr * weight_decay
    before the Adam step, instead of adding weight_decay * value to the gradient."""

    decoupled_weight_decay = True

    def __init__(self, lr=None, beta_1=0.9, beta_2=0.999, eps=1e-8, *, learning_rate=None,
                 weight_decay=0.01, clip_norm=None, clip_value=None, foreach=None):
        super().__init__(lr_argument(lr, learning_rate, 0.001, "AdamW"), beta_1, beta_2, eps,
                         weight_decay=weight_decay, clip_norm=clip_norm, clip_value=clip_value,
                         foreach=foreach)


OPTIMIZERS.add(SGD, "sgd")
OPTIMIZERS.add(RMSprop, "rmsprop")
OPTIMIZERS.add(Adam, "adam")
OPTIMIZERS.add(AdamW, "adamw")
