import json

import numpy as np
import pytest

import xpnn
from xpnn import optimizers, schedules
from xpnn.optim import SGD, Adam, AdamW, RMSprop
from xpnn.nn.parameter import Parameter
from xpnn.testing import assert_close

from .helpers import host_normal, on_backend

W0, TARGET = host_normal(2, 3, seed=1), host_normal(2, 3, seed=2)


def _quadratic_run(opt, steps, w0=W0, target=TARGET, dtype="float64"):
    """Steps on 0.5 ||w - target||^2, whose gradient is w - target."""
    p = Parameter(on_backend(w0.copy(), dtype), name="w")  # on numpy, asarray would alias w0
    goal = on_backend(target, dtype)
    for _ in range(steps):
        p.grad = p.value - goal
        opt.step([p])
    return p


# Hand-written references: the update rules spelled out once more, in NumPy.
def _sgd_reference(w, steps, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    buf = None
    for _ in range(steps):
        g = (w - TARGET) + weight_decay * w
        buf = g if buf is None else momentum * buf + g
        update = g + momentum * buf if nesterov else buf
        w = w - lr * update
    return w


def _rmsprop_reference(w, steps, lr, rho=0.9, eps=1e-8, momentum=0.0, weight_decay=0.0):
    square_avg, buf = np.zeros_like(w), np.zeros_like(w)
    for _ in range(steps):
        g = (w - TARGET) + weight_decay * w
        square_avg = rho * square_avg + (1 - rho) * g ** 2
        update = g / (np.sqrt(square_avg) + eps)
        buf = momentum * buf + update
        w = w - lr * (buf if momentum else update)
    return w


def _adam_reference(w, steps, lr, beta_1=0.9, beta_2=0.999, eps=1e-8, weight_decay=0.0,
                    decoupled=False):
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t in range(1, steps + 1):
        g = w - TARGET
        if decoupled:
            w = w - lr * weight_decay * w
        else:
            g = g + weight_decay * w
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g ** 2
        m_hat, v_hat = m / (1 - beta_1 ** t), v / (1 - beta_2 ** t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
    return w


CASES = [
    (lambda: SGD(0.1), lambda w: _sgd_reference(w, 5, 0.1)),
    (lambda: SGD(0.1, momentum=0.9), lambda w: _sgd_reference(w, 5, 0.1, 0.9)),
    (lambda: SGD(0.1, 0.9, nesterov=True, weight_decay=0.1),
     lambda w: _sgd_reference(w, 5, 0.1, 0.9, True, 0.1)),
    (lambda: RMSprop(0.01), lambda w: _rmsprop_reference(w, 5, 0.01)),
    (lambda: RMSprop(0.01, rho=0.8, momentum=0.5, weight_decay=0.1),
     lambda w: _rmsprop_reference(w, 5, 0.01, 0.8, 1e-8, 0.5, 0.1)),
    (lambda: Adam(0.01), lambda w: _adam_reference(w, 5, 0.01)),
    (lambda: Adam(0.01, beta_1=0.8, beta_2=0.99, eps=1e-6, weight_decay=0.1),
     lambda w: _adam_reference(w, 5, 0.01, 0.8, 0.99, 1e-6, 0.1)),
    (lambda: AdamW(0.01, weight_decay=0.1),
     lambda w: _adam_reference(w, 5, 0.01, weight_decay=0.1, decoupled=True)),
]
CASE_IDS = ["sgd", "momentum", "nesterov-l2", "rmsprop", "rmsprop-momentum-l2", "adam",
            "adam-l2", "adamw"]


@pytest.mark.parametrize("make, reference", CASES, ids=CASE_IDS)
def test_steps_match_the_written_out_rule(xp, make, reference):
    p = _quadratic_run(make(), 5)
    assert_close(p.value, reference(W0))


@pytest.mark.parametrize("make", [
    lambda: SGD(0.1, momentum=0.9), lambda: SGD(0.05, momentum=0.9, nesterov=True),
    # RMSprop's steps stay about lr long near the optimum: a decaying lr lets it settle
    lambda: RMSprop(schedules.InverseTimeDecay(0.05, k=0.05)),
    lambda: Adam(0.05), lambda: AdamW(0.05, weight_decay=0.0),
], ids=["sgd", "nesterov", "rmsprop", "adam", "adamw"])
def test_least_squares_reaches_its_optimum(xp, make):
    x = host_normal(64, 3, seed=3)
    w_true, b_true = np.array([[1.5], [-2.0], [0.5]]), 0.25
    y = x @ w_true + b_true
    model, loss, opt = xpnn.Dense(3, 1).astype("float64"), xpnn.MSE(), make()
    xs, ys = on_backend(x), on_backend(y)
    for _ in range(600):
        model.zero_grad()
        out, backward = model.forward(xs)
        backward(loss.forward(out, ys)[1]())
        opt.step(model.parameters())
        opt.on_epoch_end(opt.epoch, {})
    assert_close(model.weight.value, w_true, atol=2e-3, rtol=0)
    assert_close(model.bias.value, [b_true], atol=2e-3, rtol=0)


def test_coupled_and_decoupled_weight_decay(xp):
    """With a zero gradient, L2 decay moves Adam by lr * sign(w) (Adam normalises the decay
    term away), while AdamW just shrinks the weights by the factor 1 - lr * wd."""
    w0, lr, wd = W0, 0.01, 0.1
    coupled = _quadratic_run(Adam(lr, weight_decay=wd), 1, target=w0)
    decoupled = _quadratic_run(AdamW(lr, weight_decay=wd), 1, target=w0)
    sgd = _quadratic_run(SGD(lr, weight_decay=wd), 1, target=w0)
    assert_close(coupled.value, w0 - lr * np.sign(w0), rtol=1e-6)
    assert_close(decoupled.value, w0 * (1 - lr * wd))
    assert_close(sgd.value, w0 - lr * wd * w0)


def _two_parameters(grads):
    params = [Parameter(on_backend(np.zeros_like(g)), name=f"p{i}") for i, g in enumerate(grads)]
    for p, g in zip(params, grads):
        p.grad = on_backend(g)
    return params


def test_clip_value_clamps_each_element(xp):
    grads = [np.array([[-5.0, 0.3], [2.0, -0.1]]), np.array([0.7, -0.9])]
    params = _two_parameters(grads)
    SGD(1.0, clip_value=0.5).step(params)
    for p, g in zip(params, grads):
        assert_close(p.value, -np.clip(g, -0.5, 0.5))
        assert_close(p.grad, g)  # clipping works on copies


def test_clip_norm_scales_by_the_global_norm_of_all_gradients(xp):
    grads = [np.array([3.0, 4.0]), np.array([[12.0]])]  # global norm 13
    params = _two_parameters(grads)
    SGD(1.0, clip_norm=1.0).step(params)
    for p, g in zip(params, grads):
        assert_close(p.value, -g / (13.0 + 1e-6))
        assert_close(p.grad, g)
    small = _two_parameters(grads)
    SGD(1.0, clip_norm=20.0).step(small)  # under the threshold: untouched
    for p, g in zip(small, grads):
        assert_close(p.value, -g)


def test_clip_value_then_clip_norm(xp):
    grads = [np.array([3.0, 40.0]), np.array([-0.5])]
    params = _two_parameters(grads)
    SGD(1.0, clip_value=4.0, clip_norm=2.0).step(params)
    clipped = [np.clip(g, -4.0, 4.0) for g in grads]
    norm = np.sqrt(sum((g ** 2).sum() for g in clipped))
    for p, g in zip(params, clipped):
        assert_close(p.value, -g * 2.0 / (norm + 1e-6))


@pytest.mark.parametrize("make", [lambda: SGD(0.1, momentum=0.9), RMSprop, Adam, AdamW])
def test_frozen_and_gradient_less_parameters_are_skipped(xp, make):
    frozen, missing, live = _two_parameters([np.ones(2), np.ones(3)]) + [
        Parameter(on_backend(np.zeros(2)), name="live")]
    frozen.trainable, missing.grad = False, None
    live.grad = on_backend(np.ones(2))
    opt = make()
    opt.step([frozen, missing, live])
    assert_close(frozen.value, np.zeros(2))
    assert_close(missing.value, np.zeros(3))
    assert not np.array_equal(xpnn.to_numpy(live.value), np.zeros(2))
    slots = opt.state_dict()["slots"]
    assert slots[0] == {} and slots[1] == {} and slots[2]


def test_adam_counts_steps_per_parameter(xp):
    """A parameter unfrozen after 3 steps gets a bias-corrected first step of size lr."""
    late = Parameter(on_backend(np.zeros(3)), name="late", trainable=False)
    other = Parameter(on_backend(np.zeros(3)), name="other")
    opt = Adam(0.01)
    for _ in range(4):
        late.grad = other.grad = on_backend(np.array([1.0, -2.0, 0.5]))
        late.trainable = opt.iterations == 3
        opt.step([late, other])
    assert_close(late.value, -0.01 * np.array([1.0, -1.0, 1.0]), rtol=1e-6)
    assert opt.state_dict()["param_steps"] == [1, 4]


@pytest.mark.parametrize("make", [lambda: SGD(0.1, momentum=0.9, nesterov=True),
                                  lambda: RMSprop(momentum=0.5), Adam, AdamW],
                         ids=["sgd", "rmsprop", "adam", "adamw"])
def test_float32_stays_float32_and_updates_in_place(xp, make):
    p = Parameter(on_backend(W0, "float32"), name="w")  # a float32 copy of W0
    alias = p.value
    opt = make()
    opt.weight_decay, opt.clip_norm, opt.clip_value = 0.01, 1.0, 0.5
    for _ in range(3):
        p.grad = on_backend(TARGET, "float32")
        opt.step([p])
    assert p.value is alias and xpnn.backend.dtype_name(p.value.dtype) == "float32"
    for array in opt.state_dict()["slots"][0].values():
        assert array.dtype == np.float32


def test_grad_of_another_dtype_is_refused(xp):
    p = Parameter(on_backend(W0, "float32"), name="w")
    p.grad = on_backend(W0, "float64")
    with pytest.raises(TypeError, match="SGD.step: the grad of 'w' has dtype float64"):
        SGD().step([p])


def test_checks_still_run_after_the_first_steps(xp):
    """The optimizer checks a parameter fully only when something changed; a bad grad, a
    value cast by astype, or a parameter appended to the same list is still caught."""
    p = Parameter(on_backend(W0, "float32"), name="w")
    params, opt = [p], Adam()
    for _ in range(2):
        p.grad = on_backend(W0, "float32")
        opt.step(params)
    p.grad = on_backend(W0, "float64")
    with pytest.raises(TypeError, match="Adam.step: the grad of 'w' has dtype float64"):
        opt.step(params)
    p.grad = on_backend(np.zeros((3, 2)), "float32")
    with pytest.raises(ValueError, match=r"Adam.step: grad of 'w' has shape \(3, 2\)"):
        opt.step(params)
    extra = Parameter(on_backend(np.zeros(2), "float32"), name="extra")
    extra.grad = on_backend(np.ones(2), "float32")
    p.grad = None
    params.append(extra)
    opt.step(params)
    assert opt.state_dict()["param_steps"] == [2, 1]
    p.value, p.grad = xpnn.asarray(W0, dtype="float64"), on_backend(W0, "float64")
    with pytest.raises(ValueError, match="parameter 'w' changed shape or dtype"):
        opt.step(params)


def test_step_needs_parameters(xp):
    with pytest.raises(TypeError, match=r"Adam: params\[0\] must be a Parameter"):
        Adam().step([on_backend(W0)])


def _dense_run(opt, batches, epochs_done=0, model=None):
    x, y = host_normal(12, 3, seed=4), host_normal(12, 2, seed=5)
    loss = xpnn.MSE()
    for index in batches:
        rows = slice(4 * (index % 3), 4 * (index % 3) + 4)
        model.zero_grad()
        out, backward = model.forward(on_backend(x[rows]))
        value, loss_backward = loss.forward(out, on_backend(y[rows]))
        backward(loss_backward())
        opt.step(model.parameters())
        if index % 2 == 1:
            opt.on_epoch_end(opt.epoch, {"loss": float(value)})
    return model


@pytest.mark.parametrize("make", [
    lambda: SGD(0.1, momentum=0.9, nesterov=True, clip_norm=0.5),
    lambda: RMSprop(schedules.StepDecay(0.01, every=2), momentum=0.5),
    lambda: Adam(schedules.ReduceOnPlateau(0.01, monitor="loss", patience=1), weight_decay=0.1),
    lambda: AdamW(schedules.CosineDecay(0.01, total_epochs=5, warmup_epochs=1)),
], ids=["sgd", "rmsprop", "adam", "adamw"])
def test_resuming_from_state_dict_is_bit_for_bit(xp, make):
    def fresh_model():
        with xpnn.backend.seeded(7):
            model = xpnn.Sequential(xpnn.Dense(3, 4, activation="tanh"), xpnn.Dense(4, 2))
        return model.astype("float64")

    straight = _dense_run(make(), range(10), model=fresh_model())
    first_half, opt = fresh_model(), make()
    _dense_run(opt, range(5), model=first_half)
    state = json.loads(json.dumps(opt.state_dict(), default=lambda a: a.tolist()))
    state["slots"] = opt.state_dict()["slots"]  # only the arrays stay arrays
    resumed = optimizers.optimizer_from_state(state, first_half.parameters())
    assert resumed.iterations == 5 and resumed.epoch == opt.epoch
    _dense_run(resumed, range(5, 10), model=first_half)
    for (name, a), (_, b) in zip(straight.named_parameters(), first_half.named_parameters()):
        assert np.array_equal(xpnn.to_numpy(a.value), xpnn.to_numpy(b.value)), name


def test_state_dict_holds_numpy_snapshots_in_parameter_order(xp):
    a, b = _two_parameters([np.ones(2), np.ones(3)])
    opt = Adam()
    opt.step([b, a])
    state = opt.state_dict()
    assert [s["m"].shape for s in state["slots"]] == [(3,), (2,)]
    assert all(isinstance(x, np.ndarray) for s in state["slots"] for x in s.values())
    before = state["slots"][0]["m"].copy()
    opt.step([b, a])
    assert np.array_equal(state["slots"][0]["m"], before)


def test_load_state_dict_errors(xp):
    a, b = _two_parameters([np.ones(2), np.ones(3)])
    opt = Adam()
    opt.step([a, b])
    state = opt.state_dict()
    with pytest.raises(ValueError, match="saved by 'Adam', not 'SGD'"):
        SGD().load_state_dict(state, [a, b])
    with pytest.raises(ValueError, match="2 parameter slots but 1 parameters"):
        Adam().load_state_dict(state, [a])
    with pytest.raises(ValueError, match=r"parameter 0 \('p1'\): state 'm' has shape \(2,\) "
                                         r"but the parameter has \(3,\)"):
        Adam().load_state_dict(state, [b, a])
    with pytest.raises(ValueError, match="has schedule state"):
        Adam().load_state_dict({**state, "schedule": {}}, [a, b])
    with pytest.raises(ValueError, match=r"unknown state \['m', 'v'\]; SGD keeps"):
        SGD().load_state_dict({**state, "class": "SGD"}, [a, b])
    with pytest.raises(ValueError, match=r"lacks \['slots'\]"):
        Adam().load_state_dict({k: v for k, v in state.items() if k != "slots"}, [a, b])


def test_learning_rate_schedule_moves_with_the_epochs():
    opt = SGD(schedules.StepDecay(0.1, factor=0.5, every=1))
    assert opt.current_lr == 0.1 and opt.epoch == 0
    opt.on_epoch_end(0, {"loss": 1.0})
    assert opt.epoch == 1 and opt.current_lr == 0.05
    opt.set_epoch(3)
    assert opt.current_lr == 0.1 * 0.5 ** 3
    opt.lr = 0.02  # what a LearningRateScheduler callback does
    assert opt.current_lr == 0.02 and opt.get_config()["lr"] == 0.02
    plateau = Adam(schedules.ReduceOnPlateau(0.01, patience=0))
    plateau.on_epoch_end(0, {"val_loss": 1.0})
    plateau.on_epoch_end(1, {"val_loss": 2.0})
    assert plateau.current_lr == pytest.approx(0.001)


def test_config_round_trip_and_get():
    for opt in [SGD(0.2, 0.9, True), RMSprop(clip_norm=1.0), Adam(weight_decay=0.1),
                AdamW(schedules.CosineDecay(0.01, 10, warmup_epochs=2), clip_value=3.0)]:
        spec = json.loads(json.dumps(optimizers.optimizer_config(opt)))
        assert optimizers.optimizer_from_config(spec).get_config() == opt.get_config()
    assert AdamW().weight_decay == 0.01 and Adam().weight_decay == 0.0
    assert isinstance(optimizers.get("ADAMW"), AdamW) and isinstance(optimizers.get("sgd"), SGD)
    opt = RMSprop()
    assert optimizers.get(opt) is opt
    with pytest.raises(ValueError, match="unknown optimizer 'adagrad'; valid names: adam, adamw, rmsprop, sgd"):
        optimizers.get("adagrad")
    assert isinstance(optimizers.get(Adam), Adam) and optimizers.get("sgd", lr=0.5).lr == 0.5
    with pytest.raises(TypeError, match="optimizer must be a name, an optimizer class or an optimizer object, got int"):
        optimizers.get(3)
    with pytest.raises(ValueError, match="unknown optimizer class 'Lion'; known: "):
        optimizers.optimizer_from_config({"class": "Lion", "config": {}})


@pytest.mark.parametrize("make, error, message", [
    (lambda: SGD(0.0), ValueError, "lr must be > 0"),
    (lambda: Adam(-1e-3), ValueError, "lr must be > 0"),
    (lambda: Adam("0.1"), TypeError, "Adam: lr must be a positive number or a Schedule, got '0.1'"),
    (lambda: SGD(True), TypeError, "SGD: lr must be a positive number or a Schedule, got True"),
    (lambda: Adam(float("nan")), ValueError, "lr must be finite"),
    (lambda: SGD(momentum=1.0), ValueError, r"SGD: momentum must be in \[0, 1\)"),
    (lambda: SGD(nesterov=True), ValueError, "nesterov=True needs momentum > 0"),
    (lambda: SGD(momentum=0.9, nesterov="yes"), TypeError, "nesterov must be True or False"),
    (lambda: RMSprop(rho=1.5), ValueError, r"RMSprop: rho must be in \[0, 1\)"),
    (lambda: RMSprop(eps=0), ValueError, "RMSprop: eps must be > 0"),
    (lambda: Adam(beta_1=1.0), ValueError, "Adam: beta_1 must be in"),
    (lambda: AdamW(beta_2=-0.1), ValueError, "AdamW: beta_2 must be in"),
    (lambda: Adam(weight_decay=-0.1), ValueError, "Adam: weight_decay must be >= 0"),
    (lambda: SGD(clip_norm=0), ValueError, "SGD: clip_norm must be > 0"),
    (lambda: SGD(clip_value=-1), ValueError, "SGD: clip_value must be > 0"),
    (lambda: SGD().set_epoch(-1), ValueError, "epoch must be an int >= 0"),
    (lambda: SGD().set_epoch(1.5), TypeError, "epoch must be an int"),
])
def test_bad_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_lr_setter_validates():
    opt = Adam()
    with pytest.raises(ValueError, match="Adam: lr must be > 0"):
        opt.lr = 0
    with pytest.raises(TypeError, match="a positive number or a Schedule, got 'StepDecay'"):
        opt.lr = "StepDecay"
    assert opt.lr == 0.001


@pytest.mark.parametrize("make", [
    lambda: Adam(lr=schedules.StepDecay(0.1, factor=0.5, every=1)),
    lambda: SGD(lr=0.1, momentum=0.9),
], ids=["adam-schedule", "sgd-momentum"])
def test_a_snapshot_puts_back_the_state_it_took_and_reuses_its_memory(xp, make):
    def run(opt, p, steps):
        for _ in range(steps):
            p.grad = xp.asarray(host_normal(3, 2, seed=opt.iterations), dtype=xp.float64)
            opt.step([p])
            opt.on_epoch_end(opt.epoch, {})

    p = Parameter(xp.asarray(host_normal(3, 2), dtype=xp.float64), "w")
    opt = make()
    run(opt, p, 2)
    snap, weights = opt.snapshot(), xp.asarray(p.value, copy=True)
    reference = opt.state_dict()
    run(opt, p, 3)  # the snapshot must not follow the live state
    again = opt.snapshot(reuse=snap)  # written into snap's arrays
    assert all(a is b for s1, s2 in zip(snap["slots"], again["slots"]) for a, b in zip(s1.values(), s2.values()))
    first = make()  # the same two steps again: what snap held before it was reused
    run(first, Parameter(xp.asarray(host_normal(3, 2), dtype=xp.float64), "w"), 2)
    opt.load_snapshot(first.snapshot() | {"params": [p]})
    p.value = weights
    state = opt.state_dict()
    assert (state["iterations"], state["epoch"], state["schedule"]) == (
        reference["iterations"], reference["epoch"], reference["schedule"])
    for mine, theirs in zip(state["slots"], reference["slots"]):
        for name in theirs:
            np.testing.assert_array_equal(mine[name], theirs[name])
