"""The counter-based stream layers draw masks from (DeviceRandom over Ops.random_bits,
Philox4x32-10): the reference generator's answers, the same bits on every backend, sound
statistics, and exact resumption from two integers."""

import json
import pickle

import numpy as np
import pytest

import xpnn
from xpnn import backend
from xpnn.backend import DeviceRandom
from xpnn.testing import check_backends

from .helpers import host_normal


def test_philox_gives_the_reference_implementations_known_answer(xp):
    # Random123's kat_vectors: philox4x32 10 rounds, counter 0 0 0 0, key 0 0
    words = xpnn.to_numpy(backend.ops_for(xp).random_bits(4, key=0, counter=0))
    assert words.dtype == np.uint32
    assert [int(w) for w in words] == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]


def test_the_same_seed_gives_the_same_bits_on_every_backend(other_backend):
    def draws():
        stream, like = DeviceRandom(2**40 + 17), xpnn.asarray(np.zeros(1, dtype=np.float32))
        return [xpnn.to_numpy(stream.bits(shape, like)) for shape in [(3, 5), (1,), (7, 2, 3), (1000,)]]

    with xpnn.use_backend("numpy"):
        expected = draws()
    with xpnn.use_backend(other_backend):
        got = draws()
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)


def test_a_draw_does_not_depend_on_its_size():
    """Word i of a draw is element i whatever the shape: a bigger batch extends the mask."""
    like = xpnn.asarray(np.zeros(1, dtype=np.float32))
    small = xpnn.to_numpy(DeviceRandom(9).bits((10,), like))
    large = xpnn.to_numpy(DeviceRandom(9).bits((6, 7), like)).reshape(-1)
    np.testing.assert_array_equal(large[:10], small)


def test_bits_and_masks_have_the_statistics_they_should():
    like = xpnn.asarray(np.zeros(1, dtype=np.float32))
    stream = DeviceRandom(123)
    n = 400_000
    words = xpnn.to_numpy(stream.bits((n,), like)).astype(np.uint64)
    bits = (words[:, None] >> np.arange(32, dtype=np.uint64)) & np.uint64(1)
    assert np.all(np.abs(bits.mean(axis=0) - 0.5) < 4 * 0.5 / np.sqrt(n))  # every bit position fair
    rate = 0.3
    first = xpnn.to_numpy(stream.keep_mask((n,), like, rate))
    second = xpnn.to_numpy(stream.keep_mask((n,), like, rate))
    sigma = np.sqrt(rate * (1 - rate) / n)
    assert abs(first.mean() - (1 - rate)) < 5 * sigma
    assert abs(second.mean() - (1 - rate)) < 5 * sigma
    assert not np.array_equal(first, second)  # each draw moves the counter on
    # independent across draws and across neighbouring elements: joint keep-rate (1 - rate)^2
    for a, b in [(first, second), (first[:-1], first[1:]), (first[::2], first[1::2])]:
        joint = np.mean(a & b)
        assert abs(joint - (1 - rate) ** 2) < 5 * np.sqrt((1 - rate) ** 2 / len(a))
    uniform = xpnn.to_numpy(stream.uniform((n,), xpnn.asarray(np.zeros(1))))
    assert uniform.min() >= 0 and uniform.max() < 1 and abs(uniform.mean() - 0.5) < 5 * np.sqrt(1 / 12 / n)


def test_the_state_is_two_integers_and_resumes_exactly(xp):
    like = xpnn.asarray(np.zeros(1, dtype=np.float32))
    stream = DeviceRandom(5)
    stream.keep_mask((4, 3), like, 0.5)
    stream.keep_mask((4, 3), like, 0.5)
    state = json.loads(json.dumps(stream.state_dict()))
    assert state == {"seed": 5, "counter": 2}
    resumed = DeviceRandom(0)
    resumed.load_state_dict(state)
    np.testing.assert_array_equal(xpnn.to_numpy(resumed.bits((50,), like)), xpnn.to_numpy(stream.bits((50,), like)))


@pytest.mark.parametrize("state, message", [
    ({"seed": 1}, "expected"), ("seed", "expected"), ({"seed": -1, "counter": 0}, "seed must be an int >= 0"),
    ({"seed": 1, "counter": 1.5}, "counter must be an int >= 0"), ({"seed": True, "counter": 0}, "seed must be"),
])
def test_a_bad_state_is_refused_and_changes_nothing(state, message):
    stream = DeviceRandom(7)
    stream.counter = 3
    with pytest.raises(ValueError, match=f"DeviceRandom.load_state_dict: {message}"):
        stream.load_state_dict(state)
    assert stream.state_dict() == {"seed": 7, "counter": 3}


def test_a_model_that_drew_masks_can_be_pickled(xp):
    model = xpnn.Sequential(xpnn.Dense(4, 6), xpnn.Dropout(0.5, seed=1), xpnn.Dense(6, 2))
    x = xpnn.asarray(host_normal(8, 4), dtype="float32")
    model.forward(x, training=True)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(xpnn.to_numpy(again.forward(x, training=True)[0]),
                                  xpnn.to_numpy(model.forward(x, training=True)[0]))


def test_a_network_with_dropout_agrees_across_backends():
    """The masks are the same everywhere, so a training forward and backward can be compared."""
    x = host_normal(16, 5)
    check_backends(lambda: xpnn.Sequential(xpnn.Dense(5, 12, activation="relu"), xpnn.Dropout(0.4, seed=3),
                                           xpnn.Dense(12, 3)), x)


def test_a_negative_word_in_a_saved_generator_state_is_refused_on_every_numpy():
    # NumPy 2 refuses it itself; NumPy 1.26 (the oldest set) wrapped it without a word
    state = {"bit_generator": "PCG64", "state": {"state": -1, "inc": 1}, "has_uint32": 0, "uinteger": 0}
    with pytest.raises(ValueError, match="unsigned integers, got -1"):
        xpnn.backend.DeviceRandom(0).load_state_dict({"seed": 0, "host_state": state})
