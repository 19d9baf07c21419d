"""Nothing in a training step waits for the device: the number of host reads a ``fit`` makes
does not grow with the number of steps per epoch. Counted on array_api_strict, whose arrays
go to the host only through these methods (on CuPy each would make the GPU wait)."""

import collections
import warnings

import numpy as np
import pytest

import xpnn

strict = pytest.importorskip("array_api_strict")

READS = ("__bool__", "__float__", "__int__", "__index__", "__array__", "__dlpack__")


@pytest.fixture
def host_reads(monkeypatch):
    counts = collections.Counter()
    Array = type(strict.asarray(0))
    for name in READS:
        original = getattr(Array, name, None)
        if original is None:
            continue

        def counted(self, *args, _original=original, _name=name, **kwargs):
            counts[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(Array, name, counted)
    return counts


def _reads_for(counts, batch_size, callbacks, metrics):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4))
    y = (X[:, 0] > 0).astype(int)
    with xpnn.use_backend("array_api_strict"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xpnn.set_seed(0)
        model = xpnn.Model(xpnn.Dense(4, 16, activation="relu"), xpnn.Dropout(0.2),
                           xpnn.Dense(16, 16, activation="sigmoid"), xpnn.Dense(16, 2))
        model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=1, batch_size=batch_size,
                  verbose=0, metrics=metrics, callbacks=callbacks())
        counts.clear()  # the checks before the first step may read: count the epochs alone
        model.fit(X, y, epochs=3, batch_size=batch_size, verbose=0, metrics=metrics,
                  callbacks=callbacks(), validation_split=0.1)
        return sum(counts.values())


@pytest.mark.once
@pytest.mark.parametrize("monitor", [False, True], ids=["plain", "monitor"])
def test_host_reads_do_not_grow_with_the_steps_of_an_epoch(host_reads, monitor):
    callbacks = (lambda: [xpnn.TrainingMonitor(every=1, verbose=0)]) if monitor else list
    few = _reads_for(host_reads, 100, callbacks, ["accuracy"])   # 4 steps an epoch (3 with the split)
    many = _reads_for(host_reads, 10, callbacks, ["accuracy"])   # 36 steps an epoch
    assert few > 0  # the counting works: the epochs' one read each is seen
    assert many == few, f"{many} host reads with 36 steps an epoch against {few} with 4"
