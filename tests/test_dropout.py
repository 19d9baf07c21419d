import json

import numpy as np
import pytest

import xpnn
from xpnn.nn.layers.dropout import Dropout
from xpnn.nn.layer import layer_config, layer_from_config
from xpnn.testing import assert_close

from .helpers import host_normal, on_backend

SHAPE = (200, 500)  # 100 000 draws: a fraction is known to about 0.0015


def ones(dtype="float32"):
    return on_backend(np.ones(SHAPE), dtype=dtype)


def test_inference_and_rate_zero_are_the_identity(xp):
    x = on_backend(host_normal(4, 3))
    for layer, training in ((Dropout(0.5), False), (Dropout(0.0), True)):
        out, backward = layer.forward(x, training=training)
        assert_close(out, x)
        dout = on_backend(host_normal(4, 3, seed=1))
        assert_close(backward(dout), dout)
    assert_close(Dropout(0.9)(x), x)  # layer(x) is inference


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_training_drops_a_fraction_rate_and_scales_the_survivors(xp, rate):
    out = xpnn.to_numpy(Dropout(rate, seed=0).forward(ones())[0]).astype(np.float64)
    n = out.size
    dropped = np.mean(out == 0)
    assert abs(dropped - rate) < 5 * np.sqrt(rate * (1 - rate) / n)
    np.testing.assert_allclose(out[out != 0], 1 / (1 - rate), rtol=1e-6)
    # the expected output is the input: mean of ones stays 1 within sampling error
    assert abs(out.mean() - 1.0) < 5 * np.sqrt(rate / (1 - rate) / n)


def test_backward_uses_the_forward_mask(xp):
    rate = 0.3
    out, backward = Dropout(rate, seed=1).forward(ones("float64"))
    dout_host = host_normal(*SHAPE, seed=2)
    dx = xpnn.to_numpy(backward(on_backend(dout_host)))
    dropped = xpnn.to_numpy(out) == 0
    assert np.all(dx[dropped] == 0)
    np.testing.assert_allclose(dx[~dropped], dout_host[~dropped] / (1 - rate), rtol=1e-12)


def test_two_forwards_draw_two_masks_and_each_backward_keeps_its_own(xp):
    layer = Dropout(0.5, seed=3)
    x = on_backend(np.ones((50, 40)))
    out1, back1 = layer.forward(x)
    out2, back2 = layer.forward(x)
    assert not np.array_equal(xpnn.to_numpy(out1), xpnn.to_numpy(out2))
    dout = on_backend(np.ones((50, 40)))
    assert_close(back1(dout), out1)  # with x = dout = ones, dx equals the forward output
    assert_close(back2(dout), out2)


# Dropout(0.4, seed=11) on ones((30, 20)), two forwards: kept count, rows 0 and 29 (1 = kept),
# as xpnn's Philox stream gave them when recorded: a fixed reference, so that the numpy case
# can fail too (it used to compare numpy with itself)
RECORDED_MASKS = [
    (358, "11000101101111110011", "11101011110110111011"),
    (363, "11100111010000011111", "01111101110000010001"),
]


def test_same_seed_gives_the_recorded_masks_on_every_backend(backend_name):
    with xpnn.use_backend(backend_name):
        layer = Dropout(0.4, seed=11)
        x = xpnn.asarray(np.ones((30, 20)), dtype="float32")
        masks = [xpnn.to_numpy(layer.forward(x)[0]) for _ in range(2)]
    for mask, (kept, first, last) in zip(masks, RECORDED_MASKS):
        rows = ["".join("1" if value else "0" for value in row) for row in (mask[0] > 0, mask[29] > 0)]
        assert (int((mask > 0).sum()), *rows) == (kept, first, last)
        assert set(np.unique(mask).tolist()) == {0.0, np.float32(1 / 0.6).item()}


def test_state_dict_resumes_the_stream_exactly(xp, backend_name):
    if backend_name == "cupy":
        pytest.skip("CuPy's generator state is not exported: a CuPy run resumes from its seed")
    x = on_backend(np.ones((30, 20)), dtype="float32")
    layer = Dropout(0.5, seed=5)
    layer.forward(x)  # advance the stream past its start
    state = json.loads(json.dumps(layer.random.state_dict()))  # it is JSON-able
    expected = xpnn.to_numpy(layer.forward(x)[0])
    resumed = Dropout(0.5, seed=99)
    resumed.random.load_state_dict(state)
    assert np.array_equal(xpnn.to_numpy(resumed.forward(x)[0]), expected)


def test_seed_none_draws_from_the_library_stream():
    xpnn.set_seed(8)
    a = Dropout(0.5).random.state_dict()["seed"]
    xpnn.set_seed(8)
    assert Dropout(0.5).random.state_dict()["seed"] == a


def test_config_round_trip(xp):
    layer = Dropout(0.25, seed=5)
    assert layer.get_config() == {"rate": 0.25, "seed": 5}
    assert repr(layer) == "Dropout(rate=0.25, seed=5)"
    again = layer_from_config(layer_config(layer))
    x = on_backend(np.ones((10, 10)), dtype="float32")
    assert np.array_equal(xpnn.to_numpy(again.forward(x)[0]), xpnn.to_numpy(layer.forward(x)[0]))


# ----------------------------------------------------------- bad input

@pytest.mark.parametrize("rate, error, message", [
    (1, ValueError, r"Dropout: rate must be in \[0, 1\), got 1"),
    (-0.1, ValueError, r"Dropout: rate must be in \[0, 1\), got -0.1"),
    ("a", TypeError, "Dropout: rate must be a number, got 'a'"),
    (float("nan"), ValueError, "Dropout: rate must be finite"),
])
def test_bad_rate(rate, error, message):
    with pytest.raises(error, match=message):
        Dropout(rate)


@pytest.mark.parametrize("seed", [-1, 1.5, True, "7"])
def test_bad_seed(seed):
    with pytest.raises(TypeError, match="Dropout: seed must be None or a non-negative int"):
        Dropout(0.5, seed=seed)


def test_integer_input(xp):
    message = "Dropout: x must be a floating-point array, got dtype int64"
    with pytest.raises(TypeError, match=message):
        Dropout(0.5).forward(xp.asarray([[1, 2]]))


def test_backward_with_wrongly_shaped_gradient(xp):
    _, backward = Dropout(0.5).forward(on_backend(np.ones((4, 2))))
    message = r"Dropout.backward: dout has shape \(4, 3\), expected \(4, 2\)"
    with pytest.raises(ValueError, match=message):
        backward(on_backend(np.ones((4, 3))))


def test_a_0d_array_counts_as_a_number():
    assert Dropout(np.array(0.25)).rate == 0.25 and xpnn.Huber(delta=np.float32(2.0)).delta == 2.0
    with pytest.raises(TypeError, match="Dropout: rate must be a number, got array"):
        Dropout(np.array([0.25, 0.5]))
