"""Data-parallel training (xpnn.distributed): the jobs run under ``mpiexec -n 2`` in a
subprocess (tests/distributed/run_fit.py) with a timeout, so a hung rank fails the test instead
of stalling the suite, and are compared with a single process run here; the pieces that need no
MPI (shares of a batch, the bucketed sum, sliced masks, the argument checks) run in-process
with a stand-in communicator."""

import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import xpnn
from xpnn.backend import DeviceRandom, ops_for
from xpnn.distributed import Communicator, DataParallel
from xpnn.testing import assert_close
from xpnn.training.checkpoint import CHECKPOINT_FORMAT, read_file

from .helpers import host_normal, on_backend

HERE = pathlib.Path(__file__).parent
SCRIPT = HERE / "distributed" / "run_fit.py"
ROOT = HERE.parent


def _mpiexec():
    beside = pathlib.Path(sys.executable).parent / "mpiexec"  # the mpich wheel's, in the venv
    return str(beside) if beside.exists() else shutil.which("mpiexec")


def _why_no_mpi():
    if importlib.util.find_spec("mpi4py") is None:
        return 'mpi4py is not installed (pip install "xpnn[mpi]")'
    if _mpiexec() is None:
        return "no mpiexec next to this Python or on PATH (the mpich wheel brings one)"
    return None


needs_mpi = pytest.mark.skipif(_why_no_mpi() is not None, reason=str(_why_no_mpi()))


def _load_script():
    spec = importlib.util.spec_from_file_location("run_fit", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _launch(config, out, ranks=2, backend="numpy", timeout=120):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               XPNN_BACKEND=backend, OMP_NUM_THREADS="1")
    started = time.monotonic()
    done = subprocess.run([_mpiexec(), "-n", str(ranks), sys.executable, str(SCRIPT), json.dumps(config), str(out)],
                          env=env, capture_output=True, text=True, timeout=timeout)
    return done, time.monotonic() - started


def _ranks(out, ranks=2):
    return [dict(np.load(out / f"rank{r}.npz")) for r in range(ranks)]


def _single(config):
    script = _load_script()
    with xpnn.use_backend("numpy"):
        model, history = script.train(config)
        return script.arrays_of(model, history)


def _assert_same_run(got, reference, rtol, atol=0.0):
    for key, value in reference.items():
        if key == "history":
            mine, theirs = json.loads(str(got[key])), json.loads(str(value))
            assert mine["stop_reason"] == theirs["stop_reason"]
            assert mine["history"].keys() == theirs["history"].keys()
            for name, values in theirs["history"].items():
                np.testing.assert_allclose(mine["history"][name], values, rtol=max(rtol, 1e-12), err_msg=name)
        else:
            np.testing.assert_allclose(got[key], value, rtol=rtol, atol=atol, err_msg=key)


# ---------------------------------------------------------------- under mpiexec

@pytest.mark.once
@needs_mpi
@pytest.mark.parametrize("config", [
    # Dropout, weight decay, clipping by the global norm, a step schedule, momentum; sample
    # weights (each rank's gradient weighted by its share's weight sum), validation and metrics
    {"dtype": "float64", "epochs": 3, "batch_size": 20, "validation": True, "sample_weight": True},
    # a hand-written loop through DataParallel.train_step; a 200-byte bucket splits every
    # weight matrix across several buckets; 33 = 17 + 16: uneven shares
    {"dtype": "float64", "epochs": 2, "batch_size": 33, "loop": True, "bucket_size": 200},
    # BatchNorm with statistics over the global batch (DataParallel(sync_batchnorm=True)):
    # running statistics included, uneven shares, sample weights
    {"dtype": "float64", "epochs": 3, "batch_size": 33, "batchnorm": True, "sync_batchnorm": True,
     "sample_weight": True, "validation": True},
], ids=["fit", "hand-written-loop", "fit-sync-batchnorm"])
def test_two_ranks_give_the_parameters_of_one_process_float64(tmp_path, config):
    done, _ = _launch(config, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    first, second = _ranks(tmp_path)
    reference = _single(config)
    _assert_same_run(first, reference, rtol=1e-12)
    for key in first:  # the same update on every rank: bit for bit
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)


@pytest.mark.once
@needs_mpi
def test_two_ranks_float32_match_one_process_to_rounding(tmp_path):
    config = {"dtype": "float32", "epochs": 3, "batch_size": 33}
    done, _ = _launch(config, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    first, second = _ranks(tmp_path)
    # float32 sums in another order: parameters of size ~1 differed by 1.2e-7 at most (1 ulp)
    # when this was written; 1e-6 leaves room for another BLAS, and catches any real mistake
    _assert_same_run(first, _single(config), rtol=1e-5, atol=1e-6)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)


@pytest.mark.once
@needs_mpi
@pytest.mark.parametrize("backend", ["array_api_strict", "cupy"])
def test_array_api_strict_takes_the_host_staged_path(tmp_path, backend):
    # array_api_strict's arrays have no buffer MPI can sum in place: copied to the host and
    # back; CuPy's too unless mpi4py reports a CUDA-aware MPI (two ranks then share one GPU
    # when the machine has one)
    if not xpnn.backend.available_backends()[backend][0]:
        pytest.skip(f"{backend} unusable here: {xpnn.backend.available_backends()[backend][1].split(';')[0]}")
    config = {"dtype": "float64", "epochs": 1, "batch_size": 33, "loop": True, "bucket_size": 512}
    done, _ = _launch(config, tmp_path, backend=backend)
    assert done.returncode == 0, done.stderr[-3000:]
    first, second = _ranks(tmp_path)
    _assert_same_run(first, _single(config), rtol=1e-12)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)


@pytest.mark.once
@needs_mpi
def test_a_stop_decided_on_rank_0_stops_every_rank(tmp_path):
    config = {"dtype": "float64", "epochs": 5, "batch_size": 20, "stop_on_root_at": 1}
    done, _ = _launch(config, tmp_path, timeout=60)  # a rank training on alone would hang
    assert done.returncode == 0, done.stderr[-3000:]
    for ranked in _ranks(tmp_path):
        history = json.loads(str(ranked["history"]))
        assert history["stop_reason"] == "rank 0 said so"
        assert len(history["history"]["loss"]) == 2


@pytest.mark.once
@needs_mpi
def test_a_diverging_run_stops_on_every_rank_with_the_weights_its_last_finite_epoch_ended_with(tmp_path):
    # fit's default terminate_on_nan: each process holds only its share of a step, so the
    # epoch is not replayed; every process restores the failing epoch's start alike
    config = {"dtype": "float64", "epochs": 9, "batch_size": 20, "diverge": 1e4}
    done, _ = _launch(config, tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    first, second = _ranks(tmp_path)
    history = json.loads(str(first["history"]))
    assert "non-finite values at epoch 7" in history["stop_reason"]
    assert "data-parallel" in history["stop_reason"]
    assert len(history["history"]["loss"]) == 7 and not np.isfinite(history["history"]["loss"][-1])
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    reference = _single(dict(config, epochs=6))  # where epoch 7 began
    for key in reference:
        if key != "history":
            assert np.all(np.isfinite(first[key])), key
            # a diverging run multiplies the ranks' rounding differences every step: 3.3e-8 apart
            # after six epochs when this was written (1e-12 in the tame runs above)
            np.testing.assert_allclose(first[key], reference[key], rtol=1e-6, err_msg=key)
    assert done.stderr.count("TrainingHealthWarning") == 1  # rank 0 alone says it


@pytest.mark.once
@needs_mpi
def test_batchnorm_by_default_keeps_per_rank_statistics_and_the_same_weights(tmp_path):
    config = {"dtype": "float64", "epochs": 2, "batch_size": 20, "batchnorm": True}
    done, _ = _launch(config, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    first, second = _ranks(tmp_path)
    trained = [key for key in first if key.startswith("p")]
    for key in trained:  # the summed gradient: one update everywhere
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    # each rank normalises its own share: the running statistics are its own (documented)
    statistics = [key for key in first if key.startswith("s") and not any(
        np.array_equal(first[key], first[p]) for p in trained)]
    assert statistics and any(not np.array_equal(first[k], second[k]) for k in statistics)


@pytest.mark.once
@needs_mpi
@pytest.mark.parametrize("how", ["raise", "kill"])
def test_a_failing_rank_ends_the_job_and_the_last_checkpoint_resumes(tmp_path, how):
    checkpoint = tmp_path / "run.ckpt"
    config = {"dtype": "float64", "epochs": 4, "batch_size": 20, "checkpoint": str(checkpoint)}
    marker = tmp_path / "failed"
    failing = dict(config, fail={"rank": 1, "epoch": 2, "how": how, "marker": str(marker)})  # in epoch 3
    done, seconds = _launch(failing, tmp_path, timeout=60)
    assert done.returncode != 0
    assert seconds < 30, f"the job took {seconds:.1f} s to end"  # no rank waits in a collective
    assert marker.read_text() == f"rank 1 fails in epoch 2 ({how})"
    assert not list(tmp_path.glob("rank*.npz"))
    # rank 0 wrote epochs 1 and 2; the interrupted third left nothing half-written
    assert read_file(str(checkpoint), (CHECKPOINT_FORMAT,))["epoch"] == 2
    if how == "kill":
        return
    done, _ = _launch(dict(config, resume=True), tmp_path)  # every rank restores it
    assert done.returncode == 0, done.stderr[-3000:]
    first, second = _ranks(tmp_path)
    uninterrupted = _single(dict(config, checkpoint=str(tmp_path / "single.ckpt")))
    _assert_same_run(first, uninterrupted, rtol=1e-12)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)


@pytest.mark.once
@needs_mpi
def test_the_communicator_of_init_under_mpiexec(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([_mpiexec(), "-n", "2", sys.executable, str(HERE / "distributed" / "communicator_check.py")],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ok [0, 1]" in done.stdout, done.stdout


# ---------------------------------------------------------------- in-process, no MPI

class Twin(Communicator):
    """A stand-in: this process as rank ``rank`` of ``size`` whose peers hold the same
    buffers (a sum over ranks is ``size`` times the buffer)."""

    def __init__(self, rank=0, size=2):
        self.rank, self.size, self.local_rank = rank, size, rank
        self.calls = 0

    def allreduce_sum(self, buffer):
        self.calls += 1
        return buffer * self.size

    def broadcast(self, obj, root=0):
        return obj

    def gather(self, obj, root=0):
        return [obj] * self.size if self.rank == root else None

    def barrier(self):
        pass

    def abort(self, code=1):
        raise AssertionError("abort")


def test_importing_xpnn_does_not_import_mpi4py():
    code = "import sys, xpnn, xpnn.distributed; assert 'mpi4py' not in sys.modules, 'imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr


def test_distributed_training_without_mpi4py_says_how_to_install_it(monkeypatch):
    import xpnn.distributed.communicator as communicator

    monkeypatch.setitem(sys.modules, "mpi4py", None)  # what an absent package looks like to import
    monkeypatch.setattr(communicator, "_world", None)
    model = xpnn.Model(xpnn.Dense(2, 2, dtype="float64"))
    before = xpnn.to_numpy(model.parameters()[0].value).copy()
    with pytest.raises(ImportError, match=r'pip install "xpnn\[mpi\]"'):
        model.fit(np.zeros((4, 2)), np.zeros(4, dtype=int), loss="cross_entropy", optimizer="sgd",
                  distributed=True, verbose=0)
    np.testing.assert_array_equal(xpnn.to_numpy(model.parameters()[0].value), before)
    with pytest.raises(ImportError, match="mpi4py"):
        xpnn.distributed.init()


def test_fit_refuses_a_distributed_argument_it_does_not_know():
    model = xpnn.Model(xpnn.Dense(2, 2, dtype="float64"))
    with pytest.raises(TypeError, match="fit: distributed must be True, False, .*Communicator.*got str"):
        model.fit(np.zeros((4, 2)), np.zeros(4, dtype=int), loss="cross_entropy", optimizer="sgd",
                  distributed="mpi", verbose=0)


def test_a_bad_argument_is_refused_before_mpi_starts(monkeypatch):
    import xpnn.distributed.data_parallel as data_parallel

    started = []
    monkeypatch.setattr(data_parallel, "DataParallel", lambda *a, **k: started.append(1))
    model = xpnn.Model(xpnn.Dense(2, 2, dtype="float64"))
    with pytest.raises(ValueError, match="epochs"):
        model.fit(np.zeros((4, 2)), np.zeros(4, dtype=int), loss="cross_entropy", optimizer="sgd",
                  epochs=-1, distributed=True, verbose=0)
    with pytest.raises(ValueError, match="X"):
        model.fit(np.zeros((4, 3)), np.zeros(4, dtype=int), loss="cross_entropy", optimizer="sgd",
                  distributed=True, verbose=0)
    assert not started  # no init(): no MPI, no GPU chosen, no abort hook installed


def test_fit_refuses_batches_the_ranks_cannot_share_before_any_step():
    model = xpnn.Model(xpnn.Dense(2, 4, dtype="float64"), xpnn.BatchNorm(4, dtype="float64"), xpnn.Dense(4, 2, dtype="float64"))
    before = xpnn.to_numpy(model.parameters()[0].value).copy()
    X, y = np.zeros((23, 2)), np.zeros(23, dtype=int)
    # 23 = 2 x 10 + 3: the last batch of 3 gives a rank 1 row, and BatchNorm needs 2
    with pytest.raises(ValueError, match=r"fit: batch_size=10 leaves a batch of 3 samples, which 2 processes "
                                         r"cannot share with at least 2 each \(distributed: batch_size is the global"):
        model.fit(X, y, loss="cross_entropy", optimizer="sgd", batch_size=10, verbose=0,
                  distributed=DataParallel(Twin()))
    np.testing.assert_array_equal(xpnn.to_numpy(model.parameters()[0].value), before)


def test_data_parallel_checks_its_arguments():
    with pytest.raises(TypeError, match="DataParallel: communicator must be an xpnn.distributed.Communicator, got int"):
        DataParallel(3)
    with pytest.raises(ValueError, match="bucket_size"):
        DataParallel(Twin(), bucket_size=0)
    with pytest.raises(TypeError, match="sync_batchnorm"):
        DataParallel(Twin(), sync_batchnorm="yes")
    with pytest.raises(ValueError, match="a batch of 1 samples leaves process 1 of 2 none"):
        model = xpnn.Model(xpnn.Dense(2, 2, dtype="float64"))
        DataParallel(Twin(rank=1)).forward_backward(model, xpnn.losses.get("mse"), on_backend(np.zeros((1, 2))),
                                                     on_backend(np.zeros((1, 2))))


@pytest.mark.parametrize("n, size", [(10, 2), (33, 2), (7, 3), (5, 5)])
def test_shares_are_contiguous_cover_the_batch_and_differ_by_one_at_most(n, size):
    shares = [DataParallel(Twin(rank, size)).share(n) for rank in range(size)]
    assert shares[0][0] == 0 and shares[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(shares, shares[1:]))
    lengths = [stop - start for start, stop in shares]
    assert max(lengths) - min(lengths) <= 1 and lengths == sorted(lengths, reverse=True)


@pytest.mark.parametrize("bucket_size", [8, 24, 200, 10**6])  # bytes: 1 element, 3, 25, all
def test_gradients_are_summed_through_buckets_of_any_size(xp, bucket_size):
    layers = [xpnn.Dense(3, 4, dtype="float64"), xpnn.Dense(4, 2, dtype="float64")]
    params = [p for layer in layers for p in layer.parameters()]
    grads = []
    for index, p in enumerate(params):
        p.grad = on_backend(host_normal(*p.shape, seed=index))
        grads.append(xpnn.to_numpy(p.grad).copy())
    twin = Twin()
    DataParallel(twin, bucket_size=bucket_size).allreduce_gradients(params, 0.25)
    for p, grad in zip(params, grads):
        assert_close(p.grad, on_backend(2 * 0.25 * grad))  # two ranks, each share a quarter
    total = sum(g.size for g in grads) * 8
    assert twin.calls == -(-total // min(bucket_size, total))


def test_random_bits_at_an_offset_are_the_slice_of_the_whole_draw(xp):
    ops = ops_for(xp)
    whole = xpnn.to_numpy(ops.random_bits(41, key=7, counter=3))
    for offset in range(9):
        part = xpnn.to_numpy(ops.random_bits(10, key=7, counter=3, offset=offset))
        np.testing.assert_array_equal(part, whole[offset:offset + 10])


def test_dropout_masks_of_shares_are_the_slices_of_the_batch_masks(xp):
    x = on_backend(np.ones((9, 2, 3)))
    whole = xpnn.to_numpy(DeviceRandom(5).keep_mask((9, 2, 3), x, 0.5))
    for start, stop in [(0, 5), (5, 9), (3, 4)]:
        stream = DeviceRandom(5)
        stream.set_batch_share(start, 9)
        part = xpnn.to_numpy(stream.keep_mask((stop - start, 2, 3), x, 0.5))
        np.testing.assert_array_equal(part, whole[start:stop])
        assert stream.counter == 1 and "rows" not in str(stream.state_dict())
        stream.set_batch_share(None)  # whole draws again, the stream moved on by one
        np.testing.assert_array_equal(xpnn.to_numpy(stream.keep_mask((9, 2, 3), x, 0.5)),
                                      xpnn.to_numpy(_second_draw(5, x)))


def _second_draw(seed, x):
    stream = DeviceRandom(seed)
    stream.keep_mask((9, 2, 3), x, 0.5)
    return stream.keep_mask((9, 2, 3), x, 0.5)


def test_a_batch_share_is_checked():
    stream = DeviceRandom(0)
    for first, rows in [(-1, 4), (4, 4), (True, 3), (0, None), (1.0, 3)]:
        with pytest.raises(ValueError, match="DeviceRandom.set_batch_share: need ints 0 <= first < rows"):
            stream.set_batch_share(first, rows)
    stream.set_batch_share(2, 4)
    with pytest.raises(ValueError, match=r"a draw of shape \(3, 2\) does not fit rows 2.. of a batch of 4"):
        stream.bits((3, 2), on_backend(np.zeros(1)))
    assert stream.counter == 0


@pytest.mark.once
@needs_mpi
def test_the_readme_example_runs_under_mpiexec_and_rank_0_alone_prints_and_writes(tmp_path):
    readme = (ROOT / "README.md").read_text()
    example = readme.split("### Data-parallel training over MPI", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "train.py").write_text(example)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               XPNN_BACKEND="numpy", OMP_NUM_THREADS="1")
    done = subprocess.run([_mpiexec(), "-n", "2", sys.executable, "train.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("Epoch 1/20") == 1 and done.stdout.count("Epoch 20/20") == 1, done.stdout
    assert {"run.ckpt", "xor.xpnn"} <= {p.name for p in tmp_path.iterdir()}
    assert read_file(str(tmp_path / "run.ckpt"), (CHECKPOINT_FORMAT,))["epoch"] == 20


def test_one_rank_is_the_plain_step_with_dropout_and_synchronised_batchnorm(xp):
    # a job of one: the share is the batch, every sum over processes is the identity
    def model():
        xpnn.set_seed(2)
        return xpnn.Model(xpnn.Dense(3, 4, dtype="float64"), xpnn.BatchNorm(4, dtype="float64"),
                          xpnn.Dropout(0.5, seed=1), xpnn.Dense(4, 2, dtype="float64"))

    x, y = on_backend(host_normal(6, 3)), on_backend(host_normal(6, 2, seed=1))
    weights = on_backend(np.linspace(0.0, 1.0, 6))
    plain, parallel = model(), model()
    loss = xpnn.losses.get("mse")
    xpnn.training.step.forward_backward(plain, loss, x, y, plain.parameters(), weights)
    DataParallel(Twin(size=1), sync_batchnorm=True).forward_backward(parallel, loss, x, y, sample_weight=weights)
    for mine, theirs in zip(parallel.parameters(), plain.parameters()):
        assert_close(mine.grad, theirs.grad, rtol=1e-13)
    for (_, mine), (_, theirs) in zip(parallel.named_state(), plain.named_state()):
        assert_close(mine.value, theirs.value, rtol=1e-13)


@pytest.mark.parametrize("shape", [(6, 4), (6, 4, 3, 2)])
def test_batchnorm_over_one_process_is_batchnorm(xp, shape):
    x, dout = on_backend(host_normal(*shape)), on_backend(host_normal(*shape, seed=1))
    plain, summed = xpnn.BatchNorm(4, dtype="float64"), xpnn.BatchNorm(4, dtype="float64")
    summed.set_batch_sum(lambda array: array, shape[0])
    (out, backward), (out_summed, backward_summed) = plain.forward(x), summed.forward(x)
    assert_close(out_summed, out, rtol=1e-13)
    assert_close(backward_summed(dout), backward(dout), rtol=1e-12, atol=1e-14)
    for name in ("running_mean", "running_var"):
        assert_close(getattr(summed, name).value, getattr(plain, name).value, rtol=1e-13, atol=1e-15)
    for name in ("gamma", "beta"):
        assert_close(getattr(summed, name).grad, getattr(plain, name).grad, rtol=1e-13)
    summed.set_batch_sum(None)
    assert_close(summed.forward(x, training=False)[0], plain.forward(x, training=False)[0], rtol=1e-13)
