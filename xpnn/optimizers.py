"""Update rules: SGD (momentum, Nesterov), RMSprop, Adam and AdamW, with clipping and L2 decay.

An optimizer is built from hyper-parameters alone (``Adam(lr=1e-3)``) and binds to parameters
lazily: the first ``step(params)`` records their order and per-parameter state (momentum
buffers, moment estimates) is created on first use, on the parameter's own backend and in
its dtype. Updates happen in place (``p.value -= ...``) so every reference to a weight array
sees them, and nothing is read back to the host during a step, so a GPU never waits for one.

``state_dict()`` returns host (NumPy) copies of that state plus counters; ``load_state_dict``
puts them back on each parameter's backend, after which training continues exactly as if it
had never stopped. The learning rate is a number or a ``Schedule`` evaluated at ``epoch``.
"""

from __future__ import annotations

import math
import numbers

from . import _flat, backend, schedules
from ._checks import require_float, require_same_dtype
from .backend import asarray_like, namespace_of, to_numpy
from .registry import build_registered, class_key
from .parameter import Parameter
from .schedules import Schedule, _number, schedule_config

_OPTIMIZER_CLASSES: dict[str, type] = {}


def _fraction(value, arg: str, where: str) -> float:
    """A number in [0, 1): decay rates and momenta."""
    number = _number(value, arg, where)
    if not 0.0 <= number < 1.0:
        raise ValueError(f"{where}: {arg} must be in [0, 1), got {value!r}")
    return number


def _optional_positive(value, arg: str, where: str):
    return None if value is None else _number(value, arg, where, positive=True)


class Optimizer:
    """Base class: subclasses name their per-parameter arrays in ``slot_names`` and implement
    ``_update(xp, parameter, grad, state, lr, step)``.

    ``weight_decay`` is L2 regularisation added to the gradient (``grad + wd * value``), except
    for decoupled rules (AdamW), which shrink the weights directly. ``clip_value`` clamps each
    gradient element to [-v, v]; ``clip_norm`` then rescales all gradients together so their
    global L2 norm is at most ``clip_norm``. Clipping works on new arrays: ``p.grad`` stays as
    the backward pass left it, for anyone inspecting it afterwards.
    """

    slot_names: tuple = ()
    decoupled_weight_decay = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _OPTIMIZER_CLASSES[class_key(cls)] = cls

    def __init__(self, lr, *, weight_decay=0.0, clip_norm=None, clip_value=None):
        where = type(self).__name__
        self.lr = lr
        self.weight_decay = _number(weight_decay, "weight_decay", where)
        if self.weight_decay < 0:
            raise ValueError(f"{where}: weight_decay must be >= 0, got {weight_decay!r}")
        self.clip_norm = _optional_positive(clip_norm, "clip_norm", where)
        self.clip_value = _optional_positive(clip_value, "clip_value", where)
        self.iterations = 0
        self.epoch = 0
        self._params: list[Parameter] = []  # bound order: first appearance in step()
        self._slots: dict[int, dict] = {}  # id(parameter) -> {slot name: array}
        self._steps: dict[int, int] = {}  # id(parameter) -> updates it has received
        self._last_given: tuple = ()  # ids of the list step() was last given, and its
        self._last_unique: list = []  # unique Parameters: binding is skipped when it repeats
        self._checked: dict[int, tuple] = {}  # id(parameter) -> (value array checked, namespace)
        self._flat: _flat.FlatState | None = None  # the state of the parameters it holds, if any
        self._scratch_buffers: dict = {}  # (namespace, dtype) -> 1-d array, see _scratch

    # -- learning rate
    @property
    def lr(self):
        """A float or a Schedule; assignable (a callback may set ``opt.lr = 0.01``)."""
        return self._lr

    @lr.setter
    def lr(self, value):
        if isinstance(value, Schedule):
            self._lr = value
        elif isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{type(self).__name__}: lr must be a positive number or a Schedule, "
                            f"got {value!r:.80}")
        else:
            self._lr = _number(value, "lr", type(self).__name__, positive=True)

    @property
    def current_lr(self) -> float:
        return self._lr(self.epoch) if isinstance(self._lr, Schedule) else self._lr

    def set_epoch(self, epoch: int) -> None:
        self.epoch = schedules._epoch_index(epoch, f"{type(self).__name__}.set_epoch")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Let the schedule see the epoch's metrics, then move on to the next epoch."""
        epoch = schedules._epoch_index(epoch, f"{type(self).__name__}.on_epoch_end")
        if isinstance(self._lr, Schedule):
            self._lr.on_epoch_end(epoch, dict(logs or {}))
        self.epoch = epoch + 1

    # -- the update
    def step(self, params) -> None:
        """Update every trainable parameter that has a gradient; others are skipped."""
        params = self._bind(params)
        active = [p for p in params if p.trainable and p.grad is not None]
        spaces = [self._namespace_of(p) for p in active]
        grads = [p.grad for p in active]
        if self.clip_value is not None:
            grads = [xp.clip(g, -self.clip_value, self.clip_value) for xp, g in zip(spaces, grads)]
        if self.clip_norm is not None and grads:
            grads = _clip_global_norm(grads, self.clip_norm)
        lr = self.current_lr
        if self.weight_decay and not self.decoupled_weight_decay:
            grads = [g + self.weight_decay * p.value for p, g in zip(active, grads)]
        if not self._step_flat(spaces, active, grads, lr):
            for xp, p, g in zip(spaces, active, grads):
                state = self._slots.setdefault(id(p), {})
                step = self._steps[id(p)] = self._steps.get(id(p), 0) + 1
                self._update(xp, p, g, state, lr, step)
        self.iterations += 1

    def _update(self, xp, p, grad, state, lr, step):
        raise NotImplementedError(f"{type(self).__name__} must implement _update")

    # -- the multi-tensor path (xpnn/_flat.py): a rule that defines _update_flat runs once on
    # all parameters concatenated when they allow it, with the same numbers as _update
    _update_flat = None  # (xp, flat: _flat.FlatState, params, grad: 1-d, lr, step) -> None

    def _step_flat(self, spaces, active, grads, lr) -> bool:
        """Update ``active`` on the flat path and return True, or return False (after giving
        the per-parameter path back its state) where it does not apply."""
        flat = self._flat
        if flat is None or flat.ids != tuple(map(id, active)):
            self._unflatten()
            flat = self._flatten(spaces, active)
            if flat is None:
                return False
        step = self._steps.get(flat.ids[0], 0) + 1
        for pid in flat.ids:
            self._steps[pid] = step
        self._update_flat(flat.xp, flat, active, flat.gather(grads), lr, step)
        return True

    def _flatten(self, spaces, active):
        """A FlatState for ``active``, or None unless they are several, on one backend, of
        one dtype, with one step count, small enough (_flat.MAX_BYTES), and all with state
        or all without."""
        if self._update_flat is None or len(active) < 2:
            return None
        xp, dtype, step = spaces[0], active[0].value.dtype, self._steps.get(id(active[0]), 0)
        if any(space is not xp for space in spaces) or any(
                p.value.dtype != dtype or self._steps.get(id(p), 0) != step for p in active):
            return None
        if not _flat.fits(active, xp):
            return None
        slots = [self._slots.get(id(p), {}) for p in active]
        if any(set(slot) != set(self.slot_names) for slot in slots):
            if any(slots):  # a partial state (RMSprop without momentum yet): leave it alone
                return None
            slots = []
        self._flat = _flat.FlatState(xp, active, slots, self.slot_names)
        for p in active:
            self._slots.pop(id(p), None)
        return self._flat

    def _unflatten(self) -> None:
        """Hand the flat state back to the per-parameter slots."""
        if self._flat is not None:
            self._slots.update(self._flat.slots())
            self._flat = None

    def _all_slots(self) -> dict:
        return {**self._slots, **self._flat.slots()} if self._flat is not None else self._slots

    def _bind(self, params) -> list:
        given = tuple(map(id, params)) if type(params) is list else None
        if given is not None and given == self._last_given:  # a training loop's every step
            return self._last_unique
        unique = _unique_parameters(params, type(self).__name__)
        known = {id(p) for p in self._params}
        self._params.extend(p for p in unique if id(p) not in known)
        if given is not None:  # the ids stay valid: _last_unique keeps their owners alive
            self._last_given, self._last_unique = given, unique
        return unique

    def _scratch(self, xp, like):
        """An array shaped like ``like`` for a kernel's intermediates: a view into one buffer
        per namespace and dtype, grown to the largest parameter. For fused kernels only: their
        namespaces slice and reshape a contiguous buffer into views, which the array API does
        not promise."""
        size, key = math.prod(like.shape), (xp, like.dtype)
        buffer = self._scratch_buffers.get(key)
        if buffer is None or buffer.shape[0] < size:
            buffer = self._scratch_buffers[key] = xp.empty((size,), dtype=like.dtype)
        return xp.reshape(buffer[:size], like.shape)

    def _namespace_of(self, p):
        """The parameter's namespace. The full check runs when its value array is new to this
        optimizer (first step, ``layer.astype``, a loaded state) or its grad differs from the
        value in type, dtype or shape; a training loop's steady state costs a few compares."""
        value, grad = p.value, p.grad
        checked = self._checked.get(id(p))
        if (checked is not None and checked[0] is value and type(grad) is type(value)
                and grad.dtype == value.dtype and grad.shape == value.shape):
            return checked[1]
        xp = self._checked_namespace(p)
        self._checked[id(p)] = (value, xp)
        return xp

    def _checked_namespace(self, p):
        where = f"{type(self).__name__}.step"
        xp = namespace_of(value=p.value, grad=p.grad)
        self._unflatten()  # the shape check below reads the per-parameter slots
        require_float(xp, p.value, f"parameter {p.name!r}", where)
        require_same_dtype(p.grad, p.value, f"the grad of {p.name!r}", "its value", where)
        if tuple(p.grad.shape) != p.shape:
            raise ValueError(f"{where}: grad of {p.name!r} has shape {tuple(p.grad.shape)}, "
                             f"expected {p.shape}")
        for name, slot in self._slots.get(id(p), {}).items():
            if tuple(slot.shape) != p.shape or slot.dtype != p.value.dtype:
                raise ValueError(
                    f"{where}: parameter {p.name!r} changed shape or dtype since its "
                    f"{name!r} state was made (e.g. by layer.astype); build a new optimizer"
                )
        return xp

    # -- saving and restoring
    def get_config(self) -> dict:
        """Constructor arguments as JSON values; a Schedule lr as its ``schedule_config``."""
        lr = schedule_config(self._lr) if isinstance(self._lr, Schedule) else self._lr
        return {"lr": lr, **self._hyper_parameters(), "weight_decay": self.weight_decay,
                "clip_norm": self.clip_norm, "clip_value": self.clip_value}

    def _hyper_parameters(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Optimizer":
        lr = config.get("lr")
        if isinstance(lr, dict):
            config = {**config, "lr": schedules.from_config(lr)}
        return cls(**config)

    def state_dict(self) -> dict:
        """Counters, config and host copies of every per-parameter array, slots listed in the
        order parameters were first passed to ``step`` ({} for ones never updated)."""
        host, by_id = backend.host_namespace(), self._all_slots()
        slots = [
            {name: host.asarray(to_numpy(array), copy=True)  # a snapshot, not a live view
             for name, array in by_id.get(id(p), {}).items()}
            for p in self._params
        ]
        return {
            "class": class_key(type(self)),
            "config": self.get_config(),
            "iterations": self.iterations,
            "epoch": self.epoch,
            "schedule": self._lr.state_dict() if isinstance(self._lr, Schedule) else None,
            "slots": slots,
            "param_steps": [self._steps.get(id(p), 0) for p in self._params],
        }

    def load_state_dict(self, state: dict, params) -> None:
        """Restore ``state_dict()`` output for ``params`` (the same parameters, in the same
        order). Hyper-parameters stay this optimizer's own; ``optimizer_from_state`` rebuilds
        them from the state as well. Everything is checked before anything changes."""
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, dict):
            raise TypeError(f"{where}: state must be a dict, got {type(state).__name__}")
        missing = {"class", "iterations", "epoch", "schedule", "slots"} - set(state)
        if missing:
            raise ValueError(f"{where}: state lacks {sorted(missing)}")
        if state["class"] != class_key(type(self)):
            raise ValueError(
                f"{where}: the state was saved by {state['class']!r}, not "
                f"{class_key(type(self))!r}; rebuild it with optimizer_from_state(state, params)"
            )
        params = _unique_parameters(params, where)
        slots, steps = state["slots"], state.get("param_steps")
        if slots and len(slots) != len(params):  # [] is an optimizer that never stepped
            raise ValueError(f"{where}: the state has {len(slots)} parameter slots but "
                             f"{len(params)} parameters were given")
        if (state["schedule"] is None) != (not isinstance(self._lr, Schedule)):
            has = "lacks" if state["schedule"] is None else "has"
            raise ValueError(f"{where}: the state {has} schedule state but this optimizer's "
                             f"lr is {self._lr!r}")
        restored = {}
        for index, (p, slot) in enumerate(zip(params, slots)):
            label = f"parameter {index} ({p.name!r})"
            unknown = set(slot) - set(self.slot_names)
            if unknown:
                raise ValueError(f"{where}: {label} has unknown state {sorted(unknown)}; "
                                 f"{type(self).__name__} keeps {list(self.slot_names)}")
            for name, array in slot.items():
                if tuple(array.shape) != p.shape:
                    raise ValueError(f"{where}: {label}: state {name!r} has shape "
                                     f"{tuple(array.shape)} but the parameter has {p.shape}")
            xp = namespace_of(value=p.value)  # astype copies: the caller's arrays stay apart
            restored[id(p)] = {n: xp.astype(asarray_like(a, p.value), p.value.dtype)
                               for n, a in slot.items()}
        if state["schedule"] is not None:
            self._lr.load_state_dict(state["schedule"])
        self._params, self._slots, self._flat = params, restored, None
        self._checked, self._last_given = {}, ()  # bind and check again on the next step
        if steps is None:  # saved without per-parameter counts: all moved together
            steps = [state["iterations"] if slot else 0 for slot in slots]
        self._steps = {id(p): int(n) for p, n in zip(params, steps)}
        self.iterations, self.epoch = int(state["iterations"]), int(state["epoch"])

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "lr")
        return f"{type(self).__name__}(lr={self._lr!r}, {args})"


def _unique_parameters(params, where: str) -> list:
    if isinstance(params, Parameter):
        params = [params]
    try:
        params = list(params)
    except TypeError:
        raise TypeError(f"{where}: params must be an iterable of Parameter, got "
                        f"{type(params).__name__}") from None
    unique, seen = [], set()
    for index, p in enumerate(params):
        if not isinstance(p, Parameter):
            raise TypeError(f"{where}: params[{index}] must be a Parameter, got "
                            f"{type(p).__name__} (pass model.parameters())")
        if id(p) not in seen:  # a shared weight listed twice is still updated once
            seen.add(id(p))
            unique.append(p)
    return unique


def _clip_global_norm(grads, clip_norm):
    """Scale all gradients by min(1, clip_norm / (norm + 1e-6)), norm being their joint L2
    norm. The factor stays a 0-d device array: reading it would make a GPU wait every step."""
    xp = namespace_of(**{f"grads[{i}]": g for i, g in enumerate(grads)})
    total = xp.sum(grads[0] * grads[0])
    for g in grads[1:]:
        total = total + xp.sum(g * g)
    scale = clip_norm / (xp.sqrt(total) + 1e-6)
    scale = xp.minimum(scale, xp.ones_like(scale))
    return [g * (scale if scale.dtype == g.dtype else xp.astype(scale, g.dtype)) for g in grads]


class SGD(Optimizer):
    """PyTorch's SGD: buf = momentum * buf + grad (buf = grad at the first step); the update
    is buf, or grad + momentum * buf with Nesterov; value -= lr * update."""

    slot_names = ("momentum_buffer",)

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, *, weight_decay=0.0,
                 clip_norm=None, clip_value=None):
        super().__init__(lr, weight_decay=weight_decay, clip_norm=clip_norm, clip_value=clip_value)
        self.momentum = _fraction(momentum, "momentum", "SGD")
        if not isinstance(nesterov, bool):
            raise TypeError(f"SGD: nesterov must be True or False, got {nesterov!r}")
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
        if buf is None:
            buf = state["momentum_buffer"] = xp.asarray(grad, copy=True)
        else:
            buf *= self.momentum
            buf += grad
        update = grad + self.momentum * buf if self.nesterov else buf
        p.value -= lr * update


class RMSprop(Optimizer):
    """square_avg = rho * square_avg + (1 - rho) grad^2, update = grad / (sqrt(square_avg) + eps);
    with momentum, buf = momentum * buf + update and value -= lr * buf, else
    value -= lr * update."""

    slot_names = ("square_avg", "momentum_buffer")

    def __init__(self, lr=0.001, rho=0.9, eps=1e-8, momentum=0.0, *, weight_decay=0.0,
                 clip_norm=None, clip_value=None):
        super().__init__(lr, weight_decay=weight_decay, clip_norm=clip_norm, clip_value=clip_value)
        self.rho = _fraction(rho, "rho", "RMSprop")
        self.eps = _number(eps, "eps", "RMSprop", positive=True)
        self.momentum = _fraction(momentum, "momentum", "RMSprop")

    def _hyper_parameters(self):
        return {"rho": self.rho, "eps": self.eps, "momentum": self.momentum}

    def _update(self, xp, p, grad, state, lr, step):
        if "square_avg" not in state:
            state["square_avg"] = xp.zeros_like(p.value)
        square_avg = state["square_avg"]
        square_avg *= self.rho
        square_avg += (1.0 - self.rho) * (grad * grad)
        update = grad / (xp.sqrt(square_avg) + self.eps)
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

    def __init__(self, lr=0.001, beta_1=0.9, beta_2=0.999, eps=1e-8, *, weight_decay=0.0,
                 clip_norm=None, clip_value=None):
        super().__init__(lr, weight_decay=weight_decay, clip_norm=clip_norm, clip_value=clip_value)
        where = type(self).__name__
        self.beta_1 = _fraction(beta_1, "beta_1", where)
        self.beta_2 = _fraction(beta_2, "beta_2", where)
        self.eps = _number(eps, "eps", where, positive=True)

    def _hyper_parameters(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "eps": self.eps}

    def _update(self, xp, p, grad, state, lr, step):
        if "m" not in state:
            state["m"], state["v"] = xp.zeros_like(p.value), xp.zeros_like(p.value)
        self._decay((p,), lr)
        p.value -= self._step_size(xp, state["m"], state["v"], grad, lr, step)

    def _update_flat(self, xp, flat, params, grad, lr, step):
        if not flat.buffers:
            flat.buffers = {"m": xp.zeros_like(grad), "v": xp.zeros_like(grad)}
        self._decay(params, lr)
        update = self._step_size(xp, flat.buffers["m"], flat.buffers["v"], grad, lr, step)
        for p, piece in zip(params, flat.pieces(update)):
            p.value -= piece

    def _decay(self, params, lr):
        """AdamW's decoupled decay, value *= 1 - lr * weight_decay; nothing for Adam."""
        if self.decoupled_weight_decay and self.weight_decay:
            for p in params:
                p.value *= 1.0 - lr * self.weight_decay

    def _step_size(self, xp, m, v, grad, lr, step):
        """Move the moments m and v (in place) and return the step to subtract; the array
        returned may be the optimizer's scratch, valid until the next update."""
        # m / (sqrt(v) / sqrt(bc_2) + eps) * lr / bc_1 as PyTorch writes it, multiplied through
        # by sqrt(bc_2) so that the bias corrections are scalars and cost no array operation
        root_bc_2 = math.sqrt(1.0 - self.beta_2 ** step)
        eps, scale = self.eps * root_bc_2, lr * root_bc_2 / (1.0 - self.beta_1 ** step)
        kernels = backend.fused_kernels(xp)
        if kernels is not None:
            return kernels.adam_update(m, v, grad, self._scratch(xp, grad), beta_1=self.beta_1,
                                       beta_2=self.beta_2, eps=eps, scale=scale)
        m *= self.beta_1
        m += (1.0 - self.beta_1) * grad
        v *= self.beta_2
        squared = grad * grad
        squared *= 1.0 - self.beta_2
        v += squared
        del squared  # before sqrt allocates: the allocator can hand its memory straight back
        denominator = xp.sqrt(v)
        denominator += eps
        update = m / denominator
        update *= scale
        return update


class AdamW(Adam):
    """Adam with decoupled weight decay (PyTorch semantics): value *= 1 - lr * weight_decay
    before the Adam step, instead of adding weight_decay * value to the gradient."""

    decoupled_weight_decay = True

    def __init__(self, lr=0.001, beta_1=0.9, beta_2=0.999, eps=1e-8, *, weight_decay=0.01,
                 clip_norm=None, clip_value=None):
        super().__init__(lr, beta_1, beta_2, eps, weight_decay=weight_decay,
                         clip_norm=clip_norm, clip_value=clip_value)


_BY_NAME = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW}


def get(spec) -> Optimizer:
    """An Optimizer passes through; a name ('sgd', 'rmsprop', 'adam', 'adamw', any case) gives
    that optimizer with its default hyper-parameters."""
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, type) and issubclass(spec, Optimizer):
        raise TypeError(f"pass an optimizer instance such as {spec.__name__}(), not the class")
    if not isinstance(spec, str):
        raise TypeError(f"an optimizer must be an Optimizer or a name, got {type(spec).__name__}")
    cls = _BY_NAME.get(spec.strip().lower())
    if cls is None:
        raise ValueError(f"unknown optimizer {spec!r}; known names: {', '.join(_BY_NAME)}")
    return cls()


def optimizer_config(optimizer: Optimizer) -> dict:
    """``{"class": name, "config": {...}}``, the JSON form of an optimizer."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer_config: expected an Optimizer, got {type(optimizer).__name__}")
    return {"class": class_key(type(optimizer)), "config": optimizer.get_config()}


def optimizer_from_config(spec: dict) -> Optimizer:
    """Build an optimizer from ``optimizer_config`` (or ``state_dict``) output; only
    registered Optimizer classes are ever built."""
    return build_registered(spec, _OPTIMIZER_CLASSES, "optimizer")


def optimizer_from_state(state: dict, params) -> Optimizer:
    """The optimizer a checkpoint's ``state_dict()`` came from, its state loaded for ``params``."""
    optimizer = optimizer_from_config(state)
    optimizer.load_state_dict(state, params)
    return optimizer
