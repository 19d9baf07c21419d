"""One training run for tests/test_distributed.py: ``mpiexec -n N python run_fit.py CONFIG OUT``
trains data-parallel (every rank writes ``OUT/rank<r>.npz``); ``train(config)`` in the test
process is the single-process run it is compared with.

CONFIG (JSON): dtype, epochs, batch_size, batchnorm, sync_batchnorm, bucket_size,
sample_weight, validation, loop (a hand-written loop through DataParallel.train_step instead of
fit), checkpoint (a path ModelCheckpoint writes every epoch), resume (resume_from that path),
fail ({"rank", "epoch", "how": "raise" | "kill", "marker": a file it writes first}: that rank
fails in the middle of that epoch), stop_on_root_at (an epoch after which a callback stops
training on rank 0 only), diverge (a learning rate that makes the loss overflow).
"""

import json
import os
import signal
import sys

import numpy as np

import xpnn


class _FailOnce(xpnn.Callback):
    def __init__(self, rank, epoch, how, my_rank, marker):
        super().__init__()
        self.rank, self.epoch, self.how, self.my_rank, self.marker = rank, epoch, how, my_rank, marker
        self.current = None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_batch_end(self, batch, logs=None):
        if self.my_rank == self.rank and self.current == self.epoch and batch == 1:
            # the test's evidence that the job ended here: mpiexec may cut the rank's output short
            with open(self.marker, "w") as handle:
                handle.write(f"rank {self.my_rank} fails in epoch {self.epoch} ({self.how})")
            if self.how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError(f"rank {self.my_rank} fails in epoch {self.epoch}")


class _StopOnRoot(xpnn.Callback):
    def __init__(self, epoch, my_rank):
        super().__init__()
        self.epoch, self.my_rank = epoch, my_rank

    def on_epoch_end(self, epoch, logs=None):
        if self.my_rank == 0 and epoch == self.epoch:
            self.trainer.stop("rank 0 said so")


def data(config):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(150, 6))
    y = (X[:, 0] * X[:, 1] + 0.3 * X[:, 2] > 0).astype(int) + (X[:, 3] > 1)
    weights = rng.uniform(0.0, 2.0, size=150) if config.get("sample_weight") else None
    return X.astype(config["dtype"]), y, weights


def model_and_optimizer(config):
    xpnn.set_seed(3)
    middle = [xpnn.BatchNorm(16, dtype=config["dtype"])] if config.get("batchnorm") else []
    model = xpnn.Model(
        xpnn.Dense(6, 16, activation="tanh", dtype=config["dtype"]), *middle, xpnn.Dropout(0.3),
        xpnn.Dense(16, 16, activation="relu", dtype=config["dtype"]), xpnn.Dropout(0.2),
        xpnn.Dense(16, 3, dtype=config["dtype"]),
    )
    # weight decay, clipping by the global norm (small enough to bite) and a schedule
    optimizer = xpnn.SGD(lr=xpnn.schedules.StepDecay(0.2, factor=0.5, every=2), momentum=0.9,
                         weight_decay=1e-3, clip_norm=0.5)
    if config.get("diverge"):  # a learning rate that overflows float64 within a few epochs
        optimizer = xpnn.SGD(lr=config["diverge"], momentum=0.9)
    return model, optimizer


def train(config, distributed=None, rank=0):
    X, y, weights = data(config)
    model, optimizer = model_and_optimizer(config)
    if config.get("loop"):
        return _hand_written(config, model, optimizer, X, y, distributed)
    callbacks = []
    if config.get("checkpoint"):
        callbacks.append(xpnn.ModelCheckpoint(config["checkpoint"]))
    if config.get("fail"):
        callbacks.append(_FailOnce(**config["fail"], my_rank=rank))
    if config.get("stop_on_root_at") is not None:
        callbacks.append(_StopOnRoot(config["stop_on_root_at"], rank))
    history = model.fit(
        X, y, loss="cross_entropy", optimizer=None if config.get("resume") else optimizer,
        epochs=config["epochs"], batch_size=config["batch_size"], seed=5, verbose=0,
        validation_split=0.2 if config.get("validation") else 0.0, sample_weight=weights,
        metrics=["accuracy"], callbacks=callbacks,
        resume_from=config["checkpoint"] if config.get("resume") else None, distributed=distributed)
    return model, history


def _hand_written(config, model, optimizer, X, y, distributed):
    loss, params = xpnn.losses.get("cross_entropy"), model.parameters()
    Xd, yd = xpnn.asarray(X), xpnn.asarray(y)
    step = xpnn.training.train_step if distributed is None else distributed.train_step
    if distributed is not None:
        distributed.broadcast_model(model, optimizer)
    order = np.random.default_rng(5)
    for epoch in range(config["epochs"]):
        optimizer.set_epoch(epoch)
        perm = order.permutation(X.shape[0])
        for start in range(0, X.shape[0], config["batch_size"]):
            take = xpnn.asarray(perm[start:start + config["batch_size"]])
            xb, yb = xpnn.backend.namespace().take(Xd, take, axis=0), xpnn.backend.namespace().take(yd, take, axis=0)
            step(model, loss, optimizer, xb, yb, params)
        optimizer.on_epoch_end(epoch, {})
    return model, None


def arrays_of(model, history):
    out = {f"p{i}": xpnn.to_numpy(p.value) for i, p in enumerate(model.parameters())}
    out.update({f"s{i}": xpnn.to_numpy(h.value) for i, (_, h) in enumerate(model.named_state())})
    if history is not None:
        out["history"] = np.asarray(json.dumps({"history": history.history, "stop_reason": history.stop_reason}))
    return out


def main():
    config, out = json.loads(sys.argv[1]), sys.argv[2]
    import xpnn.distributed

    comm = xpnn.distributed.init()
    dp = xpnn.distributed.DataParallel(comm, bucket_size=config.get("bucket_size", 25 * 2**20),
                                       sync_batchnorm=config.get("sync_batchnorm", False))
    model, history = train(config, dp, comm.rank)
    np.savez(os.path.join(out, f"rank{comm.rank}.npz"), **arrays_of(model, history))


if __name__ == "__main__":
    main()
