"""The optimizer base: binding to parameters, clipping, weight decay, the multi-tensor path,
state dicts, and the registry of optimizers. The update rules are in ``rules.py``.

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

import numbers

from ..backend import asarray_like, copy_into, host_namespace, is_array, namespace_of, ops_for, portable, to_numpy, unwrapped
from ..nn.parameter import Parameter
from ..utils.registry import Registry, class_key
from ..utils.validation import check_float_array, check_index, check_number, check_optional_number, check_same_dtype
from . import multi_tensor, schedules
from .schedules import Schedule, schedule_config


class Optimizer:
    """Base class: subclasses name their per-parameter arrays in ``slot_names`` and implement
    ``_update(xp, parameter, grad, state, lr, step)``.

    ``weight_decay`` is L2 regularisation added to the gradient (``grad + wd * value``), except
    for decoupled rules (AdamW), which shrink the weights directly. ``clip_value`` clamps each
    gradient element to [-v, v]; ``clip_norm`` then rescales all gradients together so their
    global L2 norm is at most ``clip_norm``. Clipping works on new arrays: ``p.grad`` stays as
    the backward pass left it, for anyone inspecting it afterwards.

    ``foreach`` (PyTorch's name) chooses the multi-tensor path: None lets the optimizer update
    small sets of parameters together in one flat buffer (``multi_tensor.py``, the same numbers
    bit for bit), False keeps it to one update per parameter. Any other value is a ValueError.
    """

    slot_names: tuple = ()
    decoupled_weight_decay = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        OPTIMIZERS.add_class(cls)

    def __init__(self, lr, *, weight_decay=0.0, clip_norm=None, clip_value=None, foreach=None):
        where = type(self).__name__
        self.lr = lr
        self.weight_decay = check_number(weight_decay, "weight_decay", where, low=0)
        self.clip_norm = check_optional_number(clip_norm, "clip_norm", where, low=0, low_open=True)
        self.clip_value = check_optional_number(clip_value, "clip_value", where, low=0, low_open=True)
        if foreach is not None and foreach is not False:
            raise ValueError(f"{where}: foreach must be None (automatic) or False (never), got {foreach!r}")
        self.foreach = foreach
        self.iterations = 0
        self.epoch = 0
        self._params: list[Parameter] = []  # bound order: first appearance in step()
        self._slots: dict[int, dict] = {}  # id(parameter) -> {slot name: array}
        self._steps: dict[int, int] = {}  # id(parameter) -> updates it has received
        self._last_given: tuple = ()  # ids of the list step() was last given, and its
        self._last_unique: list = []  # unique Parameters: binding is skipped when it repeats
        self._checked: dict[int, tuple] = {}  # id(parameter) -> (value array checked, namespace)
        self._multi_tensor: multi_tensor.MultiTensorState | None = None

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
            self._lr = check_number(value, "lr", type(self).__name__, low=0, low_open=True)

    @property
    def learning_rate(self):
        """``lr`` by its Keras name."""
        return self.lr

    @learning_rate.setter
    def learning_rate(self, value):
        self.lr = value

    @property
    def current_lr(self) -> float:
        return self._lr(self.epoch) if isinstance(self._lr, Schedule) else self._lr

    def set_epoch(self, epoch: int) -> None:
        self.epoch = check_index(epoch, "epoch", f"{type(self).__name__}.set_epoch")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Let the schedule see the epoch's metrics, then move on to the next epoch."""
        epoch = check_index(epoch, "epoch", f"{type(self).__name__}.on_epoch_end")
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
            grads = [ops_for(xp).clip(g, -self.clip_value, self.clip_value) for xp, g in zip(spaces, grads)]
        if self.clip_norm is not None and grads:
            grads = clip_global_norm(grads, self.clip_norm)
        lr = self.current_lr
        if self.weight_decay and not self.decoupled_weight_decay:
            grads = [g + self.weight_decay * p.value for p, g in zip(active, grads)]
        if not self._step_multi_tensor(spaces, active, grads, lr):
            for xp, p, g in zip(spaces, active, grads):
                state = self._slots.setdefault(id(p), {})
                step = self._steps[id(p)] = self._steps.get(id(p), 0) + 1
                self._update(xp, p, g, state, lr, step)
        self.iterations += 1

    def _update(self, xp, p, grad, state, lr, step):
        raise NotImplementedError(f"{type(self).__name__} must implement _update")

    # -- the multi-tensor ("foreach") path (multi_tensor.py): a rule that defines
    # _update_multi_tensor runs once on all parameters concatenated when they allow it, with
    # the same numbers as _update
    _update_multi_tensor = None  # (xp, state: MultiTensorState, params, grad: 1-d, lr, step) -> None

    @property
    def multi_tensor_state(self) -> "multi_tensor.MultiTensorState | None":
        """The state of the parameters this optimizer now updates together in one flat buffer
        per slot, or None while it updates them one by one."""
        return self._multi_tensor

    def _step_multi_tensor(self, spaces, active, grads, lr) -> bool:
        """Update ``active`` on the multi-tensor path and return True, or return False (after
        giving the per-parameter path back its state) where it does not apply."""
        group = self._multi_tensor
        if group is None or group.ids != tuple(map(id, active)):
            self._leave_multi_tensor()
            group = self._enter_multi_tensor(spaces, active)
            if group is None:
                return False
        step = self._steps.get(group.ids[0], 0) + 1
        for pid in group.ids:
            self._steps[pid] = step
        self._update_multi_tensor(group.xp, group, active, group.gather(grads), lr, step)
        return True

    def _enter_multi_tensor(self, spaces, active):
        """A MultiTensorState for ``active``, or None unless they are several, on one backend,
        of one dtype, with one step count, small enough (multi_tensor.fits), and all with
        state or all without."""
        if self._update_multi_tensor is None or self.foreach is False or len(active) < 2:
            return None
        xp, dtype, step = spaces[0], active[0].value.dtype, self._steps.get(id(active[0]), 0)
        if any(space is not xp for space in spaces) or any(
                p.value.dtype != dtype or self._steps.get(id(p), 0) != step for p in active):
            return None
        if not multi_tensor.fits(active, xp):
            return None
        slots = [self._slots.get(id(p), {}) for p in active]
        if any(set(slot) != set(self.slot_names) for slot in slots):
            if any(slots):  # a partial state (RMSprop without momentum yet): leave it alone
                return None
            slots = []
        self._multi_tensor = multi_tensor.MultiTensorState(xp, active, slots, self.slot_names)
        for p in active:
            self._slots.pop(id(p), None)
        return self._multi_tensor

    def _leave_multi_tensor(self) -> None:
        """Hand the multi-tensor state back to the per-parameter slots."""
        if self._multi_tensor is not None:
            self._slots.update(self._multi_tensor.slots())
            self._multi_tensor = None

    def _all_slots(self) -> dict:
        group = self._multi_tensor
        return {**self._slots, **group.slots()} if group is not None else self._slots

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
        self._leave_multi_tensor()  # the shape check below reads the per-parameter slots
        check_float_array(xp, p.value, f"parameter {p.name!r}", where)
        check_same_dtype(p.grad, p.value, f"the grad of {p.name!r}", "its value", where)
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
                "clip_norm": self.clip_norm, "clip_value": self.clip_value, "foreach": self.foreach}

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
        host = host_namespace()
        state = self._state(lambda old, array: host.asarray(to_numpy(array), copy=True))  # not a live view
        return {"class": state.pop("class"), "config": self.get_config(), **state}

    def _state(self, copy, reuse=None) -> dict:
        """Counters and every per-parameter array through ``copy(old, array)``, ``old`` being
        the array at the same place in ``reuse`` (an earlier state) or None."""
        old = [array for slot in reuse["slots"] for array in slot.values()] if reuse is not None else []
        by_id, slots, position = self._all_slots(), [], 0
        for p in self._params:
            slot = {}
            for name, array in by_id.get(id(p), {}).items():
                slot[name] = copy(old[position] if position < len(old) else None, array)
                position += 1
            slots.append(slot)
        return {
            "class": class_key(type(self)),
            "iterations": self.iterations,
            "epoch": self.epoch,
            "schedule": self._lr.state_dict() if isinstance(self._lr, Schedule) else None,
            "slots": slots,
            "param_steps": [self._steps.get(id(p), 0) for p in self._params],
        }

    def snapshot(self, reuse=None) -> dict:
        """``state_dict()`` with DEVICE copies of the per-parameter arrays, and the parameters
        they belong to: what ``load_snapshot`` puts back, with no transfer to the host (fit's
        guard against NaN takes one each epoch). ``reuse``: an earlier snapshot whose arrays are
        overwritten where shapes and dtypes match."""
        return {**self._state(copy_into, reuse), "params": list(self._params)}

    def load_snapshot(self, snapshot: dict) -> None:
        """Put back what ``snapshot()`` took (through ``load_state_dict``'s checks)."""
        self.load_state_dict({key: value for key, value in snapshot.items() if key != "params"},
                             snapshot["params"])

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
        for key in ("iterations", "epoch"):
            if isinstance(state[key], bool) or not isinstance(state[key], int) or state[key] < 0:
                raise ValueError(f"{where}: {key} must be an int >= 0, got {state[key]!r:.40}")
        if not isinstance(slots, list) or not all(
                isinstance(slot, dict) and all(is_array(a) for a in slot.values()) for slot in slots):
            raise ValueError(f"{where}: slots must be a list of {{name: array}} dicts, one per parameter")
        if steps is not None and (not isinstance(steps, list) or len(steps) != len(slots) or not all(
                isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in steps)):
            raise ValueError(f"{where}: param_steps must list an int >= 0 per parameter slot")
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
        self._params, self._slots, self._multi_tensor = params, restored, None
        self._checked, self._last_given = {}, ()  # bind and check again on the next step
        if steps is None:  # saved without per-parameter counts: all moved together
            steps = [state["iterations"] if slot else 0 for slot in slots]
        self._steps = {id(p): int(n) for p, n in zip(params, steps)}
        self.iterations, self.epoch = int(state["iterations"]), int(state["epoch"])

    # -- pickling (xpnn/backend/pickling.py: host copies in, arrays made on the active backend)
    def __getstate__(self) -> dict:
        """The state keyed by bound order, not by ``id``: ids mean nothing in the process that
        unpickles. The caches (checked namespaces, which cannot be pickled; the last binding)
        and the multi-tensor layout are left out: the next step rebuilds them, with the same
        numbers (multi_tensor.py)."""
        state, by_id = dict(self.__dict__), self._all_slots()
        state["_slots"] = [portable(by_id.get(id(p), {})) for p in self._params]
        state["_steps"] = [self._steps.get(id(p), 0) for p in self._params]
        state.update(_checked={}, _last_given=(), _last_unique=[], _multi_tensor=None)
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        slots, steps = unwrapped(state.pop("_slots")), state.pop("_steps")
        self.__dict__.update(state)
        self._slots = {id(p): slot for p, slot in zip(self._params, slots) if slot}
        self._steps = {id(p): n for p, n in zip(self._params, steps) if n}

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


def clip_global_norm(grads, clip_norm):
    """Scale all gradients by min(1, clip_norm / (norm + 1e-6)), norm being their joint L2
    norm. The factor stays a 0-d device array: reading it would make a GPU wait every step."""
    xp = namespace_of(**{f"grads[{i}]": g for i, g in enumerate(grads)})
    total = xp.sum(grads[0] * grads[0])
    for g in grads[1:]:
        total = total + xp.sum(g * g)
    scale = clip_norm / (xp.sqrt(total) + 1e-6)
    scale = xp.minimum(scale, xp.ones_like(scale))
    return [g * (scale if scale.dtype == g.dtype else xp.astype(scale, g.dtype)) for g in grads]


OPTIMIZERS = Registry("optimizer", Optimizer)  # names are added by rules.py


def get(spec, **hyper) -> Optimizer:
    """An Optimizer passes through; a name ('sgd', 'rmsprop', 'adam', 'adamw', any case) or an
    Optimizer class gives that optimizer with ``hyper`` (its defaults when empty)."""
    return OPTIMIZERS.get(spec, **hyper)


def optimizer_config(optimizer: Optimizer) -> dict:
    """``{"class": name, "config": {...}}``, the JSON form of an optimizer."""
    return OPTIMIZERS.config_of(optimizer)


def lr_argument(lr, learning_rate, default, where: str):
    """The learning rate a rule was given as ``lr`` (PyTorch's name) or ``learning_rate``
    (Keras's), ``default`` when neither; TypeError when both."""
    if lr is not None and learning_rate is not None:
        raise TypeError(f"{where}: give the learning rate as lr or as learning_rate, not both "
                        f"(got lr={lr!r:.40} and learning_rate={learning_rate!r:.40})")
    chosen = lr if lr is not None else learning_rate
    return default if chosen is None else chosen


def optimizer_from_config(spec: dict) -> Optimizer:
    """Build an optimizer from ``optimizer_config`` (or ``state_dict``) output; only
    registered Optimizer classes are ever built."""
    return OPTIMIZERS.from_config(spec)


def optimizer_from_state(state: dict, params) -> Optimizer:
    """The optimizer a checkpoint's ``state_dict()`` came from, its state loaded for ``params``."""
    optimizer = optimizer_from_config(state)
    optimizer.load_state_dict(state, params)
    return optimizer
