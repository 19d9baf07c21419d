import json
import math

import numpy as np
import pytest

from xpnn import schedules
from xpnn.optim import SGD
from xpnn.optim.schedules import (
    Constant, CosineDecay, ExponentialDecay, InverseTimeDecay, ReduceOnPlateau, StepDecay,
)

EPOCHS = [0, 1, 2, 5, 9, 10, 11, 25, 100]


@pytest.mark.parametrize("schedule, formula", [
    (Constant(0.3), lambda e: 0.3),
    (StepDecay(0.1), lambda e: 0.1 * 0.5 ** (e // 10)),
    (StepDecay(0.2, factor=0.1, every=3), lambda e: 0.2 * 0.1 ** (e // 3)),
    (ExponentialDecay(0.1, k=0.05), lambda e: 0.1 * math.exp(-0.05 * e)),
    (InverseTimeDecay(0.1, k=0.5), lambda e: 0.1 / (1 + 0.5 * e)),
], ids=["constant", "step", "step-custom", "exponential", "inverse-time"])
def test_values_follow_the_formulas(schedule, formula):
    for epoch in EPOCHS:
        assert schedule(epoch) == pytest.approx(formula(epoch), rel=1e-12)
        assert type(schedule(epoch)) is float


def test_cosine_decay_without_warmup():
    s = CosineDecay(0.1, total_epochs=10, min_lr=0.01)
    assert s(0) == pytest.approx(0.1)
    assert s(5) == pytest.approx(0.01 + 0.5 * 0.09)  # half way: the midpoint
    assert s(3) == pytest.approx(0.01 + 0.5 * 0.09 * (1 + math.cos(math.pi * 3 / 10)))
    assert s(10) == pytest.approx(0.01) and s(50) == pytest.approx(0.01)
    values = [s(e) for e in range(12)]
    assert all(a >= b for a, b in zip(values, values[1:]))


def test_cosine_decay_with_warmup():
    s = CosineDecay(0.1, total_epochs=12, warmup_epochs=4)
    assert [s(e) for e in range(4)] == pytest.approx([0.025, 0.05, 0.075, 0.1])
    assert s(4) == pytest.approx(0.1)  # the cosine starts at the full lr
    assert s(8) == pytest.approx(0.05)  # t = 4 of T = 8
    assert s(12) == pytest.approx(0.0, abs=1e-15)


def _feed(schedule, values, monitor="val_loss", start=0):
    lrs = []
    for epoch, value in enumerate(values, start=start):
        schedule.on_epoch_end(epoch, {monitor: value, "loss": 0.0})
        lrs.append(schedule(epoch + 1))
    return lrs


def test_reduce_on_plateau_waits_for_patience():
    s = ReduceOnPlateau(1.0, patience=2, factor=0.5)
    # improves, improves, stalls twice (reduce), stalls, improves, stalls twice (reduce)
    lrs = _feed(s, [1.0, 0.9, 0.9, 0.95, 0.9, 0.5, 0.6, 0.7])
    assert lrs == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25]


def test_reduce_on_plateau_min_delta_cooldown_and_min_lr():
    s = ReduceOnPlateau(1.0, patience=1, factor=0.1, min_delta=0.1, cooldown=2, min_lr=0.05)
    # 0.95 beats 1.0 by less than min_delta: no improvement, so reduce. As in Keras, the
    # epoch on which the cooldown runs out already counts: cooldown=2 skips one epoch. The
    # next reduction stops at min_lr, and none follows.
    lrs = _feed(s, [1.0, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95])
    assert lrs == pytest.approx([1.0, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05])
    assert s.state_dict() == {"lr": 0.05, "best": 1.0, "wait": 2, "cooldown_counter": 0}


@pytest.mark.parametrize("monitor, mode", [("val_accuracy", "auto"), ("r2", "auto"),
                                           ("val_loss", "max")])
def test_reduce_on_plateau_maximises_accuracy_like_metrics(monitor, mode):
    s = ReduceOnPlateau(1.0, monitor=monitor, mode=mode, patience=1, factor=0.5)
    assert _feed(s, [0.5, 0.6, 0.55, 0.7], monitor=monitor) == [1.0, 1.0, 0.5, 0.5]


def test_reduce_on_plateau_ignores_the_epoch_index():
    s = ReduceOnPlateau(0.3)
    assert s(0) == s(1000) == 0.3


def test_reduce_on_plateau_needs_its_monitor():
    s = ReduceOnPlateau(0.1)
    with pytest.raises(ValueError, match=r"monitor 'val_loss' is not in the epoch logs; "
                                         r"available keys: \['acc', 'loss'\]"):
        s.on_epoch_end(0, {"loss": 1.0, "acc": 0.5})


def test_reduce_on_plateau_resumes_exactly():
    values = [1.0, 0.8, 0.85, 0.9, 0.7, 0.75, 0.8, 0.9, 0.95, 0.6]

    def make():
        return ReduceOnPlateau(1.0, patience=1, factor=0.5, cooldown=1, min_lr=0.1)

    straight = _feed(make(), values)
    first = make()
    head = _feed(first, values[:4])
    state = json.loads(json.dumps(first.state_dict(), allow_nan=False))
    resumed = make()
    resumed.load_state_dict(state)
    assert head + _feed(resumed, values[4:], start=4) == straight
    assert ReduceOnPlateau(1.0).state_dict()["best"] is None  # JSON-able before any epoch
    with pytest.raises(ValueError, match=r"state lacks \['wait'\]"):
        resumed.load_state_dict({k: v for k, v in state.items() if k != "wait"})


def test_stateless_schedules_have_empty_state():
    s = StepDecay(0.1)
    assert s.state_dict() == {}
    s.load_state_dict({})
    with pytest.raises(ValueError, match="StepDecay keeps no state"):
        s.load_state_dict({"lr": 1.0})


def test_schedule_as_optimizer_lr_follows_on_epoch_end():
    opt = SGD(ReduceOnPlateau(0.1, monitor="loss", patience=0, factor=0.5))
    opt.on_epoch_end(0, {"loss": 1.0})
    assert opt.current_lr == 0.1
    opt.on_epoch_end(1, {"loss": 1.5})
    assert opt.current_lr == 0.05 and opt.epoch == 2
    cosine = SGD(CosineDecay(0.1, total_epochs=4))
    lrs = []
    for epoch in range(4):
        lrs.append(cosine.current_lr)
        cosine.on_epoch_end(epoch, {})
    assert lrs == pytest.approx([0.1, 0.1 * (1 + math.cos(math.pi / 4)) / 2, 0.05,
                                 0.1 * (1 + math.cos(3 * math.pi / 4)) / 2])


ALL = [Constant(0.1), StepDecay(0.1, 0.2, 3), ExponentialDecay(0.1, 0.3),
       InverseTimeDecay(0.1, 0.3), CosineDecay(0.1, 20, 0.001, 2),
       ReduceOnPlateau(0.1, monitor="acc", factor=0.2, patience=3, min_delta=0.0, mode="max",
                       cooldown=1, min_lr=1e-4)]


@pytest.mark.parametrize("schedule", ALL, ids=lambda s: type(s).__name__)
def test_config_round_trip(schedule):
    spec = json.loads(json.dumps(schedules.schedule_config(schedule)))
    rebuilt = schedules.from_config(spec)
    assert type(rebuilt) is type(schedule) and rebuilt.get_config() == schedule.get_config()
    assert [rebuilt(e) for e in EPOCHS] == [schedule(e) for e in EPOCHS]


def test_from_config_errors():
    with pytest.raises(ValueError, match="unknown schedule class 'Cyclic'; known: Constant, "):
        schedules.from_config({"class": "Cyclic", "config": {}})
    with pytest.raises(ValueError, match="needs 'class' and 'config' keys"):
        schedules.from_config({"class": "Constant"})
    with pytest.raises(ValueError, match="config of Constant must be a dict"):
        schedules.from_config({"class": "Constant", "config": [0.1]})
    with pytest.raises(TypeError, match="expected a schedule, got float"):
        schedules.schedule_config(0.1)


def test_get():
    s = StepDecay(0.1)
    assert schedules.get(s) is s
    assert isinstance(schedules.get(0.01), Constant) and schedules.get(0.01)(7) == 0.01
    assert schedules.get(np.float32(0.5))(0) == 0.5
    assert isinstance(schedules.get("cosine_decay", lr=0.1, total_epochs=5), CosineDecay)
    assert isinstance(schedules.get(StepDecay, lr=0.1), StepDecay)
    with pytest.raises(ValueError, match="unknown schedule '0.1'; valid names: .*cosine_decay"):
        schedules.get("0.1")
    with pytest.raises(TypeError, match="schedule must be a name, a schedule class or a schedule object, got bool"):
        schedules.get(True)
    with pytest.raises(ValueError, match="Constant: lr must be > 0"):
        schedules.get(-1.0)


@pytest.mark.parametrize("make, error, message", [
    (lambda: Constant(0), ValueError, "Constant: lr must be > 0"),
    (lambda: Constant("0.1"), TypeError, "Constant: lr must be a number"),
    (lambda: StepDecay(0.1, factor=1.5), ValueError, r"StepDecay: factor must be in \(0, 1\]"),
    (lambda: StepDecay(0.1, factor=0), ValueError, r"StepDecay: factor must be in \(0, 1\], got 0"),
    (lambda: StepDecay(0.1, every=0), ValueError, "StepDecay: every must be a positive int, got 0"),
    (lambda: StepDecay(0.1, every=2.0), ValueError, "StepDecay: every must be a positive int, got 2.0"),
    (lambda: ExponentialDecay(0.1, k=-1), ValueError, "ExponentialDecay: k must be >= 0"),
    (lambda: InverseTimeDecay(0.1, k=float("inf")), ValueError, "k must be finite"),
    (lambda: CosineDecay(0.1, total_epochs=0), ValueError, "total_epochs must be a positive int"),
    (lambda: CosineDecay(0.1, 5, warmup_epochs=5), ValueError, "must exceed warmup_epochs"),
    (lambda: CosineDecay(0.1, 5, warmup_epochs=-1), ValueError, "warmup_epochs must be an int"),
    (lambda: CosineDecay(0.1, 5, min_lr=0.2), ValueError, "min_lr .* must not exceed lr"),
    (lambda: ReduceOnPlateau(0.1, factor=1.0), ValueError, r"factor must be in \(0, 1\)"),
    (lambda: ReduceOnPlateau(0.1, mode="up"), ValueError, "mode must be one of 'auto', 'min', 'max', got 'up'"),
    (lambda: ReduceOnPlateau(0.1, monitor=""), TypeError, "monitor must be a non-empty str"),
    (lambda: ReduceOnPlateau(0.1, patience=-1), ValueError, "patience must be an int >= 0"),
    (lambda: ReduceOnPlateau(0.1, cooldown=1.5), ValueError, "cooldown must be an int >= 0"),
    (lambda: ReduceOnPlateau(0.1, min_lr=1.0), ValueError, "min_lr .* must not exceed lr"),
    (lambda: StepDecay(0.1)(-1), ValueError, "StepDecay: epoch must be an int >= 0"),
    (lambda: StepDecay(0.1)(1.5), TypeError, "StepDecay: epoch must be an int"),
    (lambda: StepDecay(0.1)(True), ValueError, "epoch must be an int >= 0, got True"),
])
def test_bad_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make()
