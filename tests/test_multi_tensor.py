"""The multi-tensor path of Adam/AdamW (xpnn/optim/multi_tensor.py) gives bit for bit the numbers of the
per-parameter path, and hands its state back whenever it stops applying."""

import numpy as np
import pytest

import xpnn
from xpnn.optim import Adam, AdamW
from xpnn.nn.parameter import Parameter

from .helpers import on_backend

SHAPES = [(5, 4), (4,), (4, 3), (3,)]


def _parameters(dtype="float32"):
    rng = np.random.default_rng(7)
    return [Parameter(on_backend(rng.standard_normal(shape), dtype), name=f"p{i}")
            for i, shape in enumerate(SHAPES)]


def _per_parameter(opt):
    opt.foreach = False  # this instance only ever takes the per-parameter path
    return opt


def _grads(step, dtype="float32"):
    rng = np.random.default_rng(100 + step)
    return [on_backend(3 * rng.standard_normal(shape), dtype) for shape in SHAPES]


def _run(opt, params, steps, first=0, live=lambda step, index: True):
    for step in range(first, first + steps):
        for index, (p, g) in enumerate(zip(params, _grads(step))):
            p.grad = g if live(step, index) else None
        opt.step(params)


def _assert_same(params_a, params_b):
    for a, b in zip(params_a, params_b):
        np.testing.assert_array_equal(xpnn.to_numpy(a.value), xpnn.to_numpy(b.value))


def _assert_same_state(opt_a, opt_b):
    a, b = opt_a.state_dict(), opt_b.state_dict()
    assert a["param_steps"] == b["param_steps"]
    for slots_a, slots_b in zip(a["slots"], b["slots"]):
        assert slots_a.keys() == slots_b.keys()
        for name in slots_a:
            np.testing.assert_array_equal(slots_a[name], slots_b[name])


OPTIMIZERS = {
    "adam": lambda: Adam(0.01),
    "adam-decay-clips": lambda: Adam(0.01, weight_decay=0.05, clip_norm=2.0, clip_value=1.5),
    "adamw-clips": lambda: AdamW(0.01, weight_decay=0.1, clip_norm=2.0, clip_value=1.5),
}


@pytest.mark.parametrize("make", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_multi_tensor_path_is_bit_for_bit_the_per_parameter_path(xp, make):
    flat_params, reference_params = _parameters(), _parameters()
    flat, reference = make(), _per_parameter(make())
    _run(flat, flat_params, 6)
    _run(reference, reference_params, 6)
    assert flat.multi_tensor_state is not None and reference.multi_tensor_state is None
    _assert_same(flat_params, reference_params)
    _assert_same_state(flat, reference)


def test_falls_back_and_comes_back_exactly(xp):
    """A gradient-less step leaves the step counts unequal: per-parameter from then on."""
    def live(step, index):
        return not (step == 2 and index == 1) and not (step >= 5 and index == 3)

    flat_params, reference_params = _parameters(), _parameters()
    flat, reference = Adam(0.01, clip_norm=1.0), _per_parameter(Adam(0.01, clip_norm=1.0))
    _run(flat, flat_params, 2, live=live)
    assert flat.multi_tensor_state is not None
    _run(flat, flat_params, 1, first=2, live=live)
    assert len(flat.multi_tensor_state.ids) == 3  # p1 had no gradient, the others went on together
    _run(flat, flat_params, 1, first=3, live=live)
    assert flat.multi_tensor_state is None  # p1 is a step behind
    _run(flat, flat_params, 4, first=4, live=live)
    _run(reference, reference_params, 8, live=live)
    _assert_same(flat_params, reference_params)
    _assert_same_state(flat, reference)


def test_state_dict_of_the_multi_tensor_path_resumes_exactly(xp):
    params, opt = _parameters(), AdamW(0.01, clip_value=1.0)
    _run(opt, params, 3)
    state = opt.state_dict()
    assert opt.multi_tensor_state is not None  # saving does not leave the multi-tensor path
    resumed_params = _parameters()
    for p, q in zip(resumed_params, params):
        p.value = xpnn.asarray(xpnn.to_numpy(q.value).copy())
    resumed = AdamW(0.01, clip_value=1.0)
    resumed.load_state_dict(state, resumed_params)
    _run(opt, params, 3, first=3)
    _run(resumed, resumed_params, 3, first=3)
    _assert_same(params, resumed_params)
    _assert_same_state(opt, resumed)


def test_mixed_dtypes_stay_per_parameter(xp):
    params = _parameters()
    params[0] = Parameter(on_backend(np.zeros(SHAPES[0]), "float64"), name="wide")
    opt = Adam(0.01)
    for step in range(2):
        for p, g in zip(params, _grads(step)):
            p.grad = xpnn.asarray(xpnn.to_numpy(g), dtype=p.value.dtype)
        opt.step(params)
    assert opt.multi_tensor_state is None and all(opt.state_dict()["slots"])


def test_large_parameters_stay_per_parameter(xp):
    """Past multi_tensor.MAX_BYTES the multi-tensor path's fresh temporaries cost more than it saves."""
    big = [Parameter(on_backend(np.zeros((200, 200)), "float32")),
           Parameter(on_backend(np.zeros(200), "float32"))]
    opt = Adam(0.01)
    for _ in range(2):
        for p in big:
            p.grad = xpnn.asarray(np.ones(p.shape, dtype=np.float32))
        opt.step(big)
    assert opt.multi_tensor_state is None


def test_foreach_false_keeps_every_update_per_parameter(xp):
    params = _parameters()
    opt = Adam(0.01, foreach=False)
    _run(opt, params, 3)
    assert opt.multi_tensor_state is None and opt.get_config()["foreach"] is False
    with pytest.raises(ValueError, match=r"Adam: foreach must be None \(automatic\) or False \(never\), got True"):
        Adam(foreach=True)


def test_foreach_takes_none_or_false_only():
    for wrong in (0, 0.0, "no", 1):
        with pytest.raises(ValueError, match="foreach must be None"):
            Adam(foreach=wrong)
