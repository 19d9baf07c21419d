"""Data-parallel training: every process holds the whole model and the whole data set, takes
its contiguous share of each global batch, and the gradients are summed across processes
before one identical update on every process.

Each process's loss gradient is weighted by its share at the source (``n_r / n``, or with
sample weights ``W_r / W``, the share's and the batch's weight sums), so that the summed
parameter gradients are exactly those of the global batch's (weighted) mean loss, as one process
computes them (to rounding: the sums run in another order). Dropout
draws the rows of the whole batch's masks that belong to the share
(``DeviceRandom.set_batch_share``), so the masks are the single process's, sliced. Gradient
clipping, weight decay and the update run on the summed gradient, so clip-by-norm sees the
global norm.
"""

from __future__ import annotations

import math

from ..backend import asarray_like, host_namespace, namespace_of, to_numpy
from ..training import step as step_module
from ..training.loop import evaluate_arrays
from ..training.callbacks import CSVLogger, ModelCheckpoint, ProgressBar
from ..utils.validation import check_bool, check_int
from .communicator import Communicator, init

# callbacks that print or write files: they run on rank 0 alone (the others would write the
# same lines and race on the same files); a callback of your own that writes should look at
# ``self.trainer.rank``
ROOT_ONLY_CALLBACKS = (ModelCheckpoint, CSVLogger, ProgressBar)


def _share(n: int, rank: int, size: int) -> tuple[int, int]:
    """(start, stop) of ``rank``'s contiguous share of ``n`` rows: the first ``n % size`` ranks
    take one row more (numpy.array_split's rule)."""
    base, extra = divmod(n, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (rank < extra)


class DataParallel:
    """Data parallelism over ``communicator`` (default ``init()``): what ``fit(distributed=...)``
    uses, and the pieces a hand-written loop needs.

    - ``bucket_size``: bytes of the one flat buffer gradients are copied into and summed in
      (default 25 MiB, PyTorch DDP's ``bucket_cap_mb``); a model with more gradient than that is
      summed bucket by bucket through the same buffer, so it never needs a second full copy of
      its gradients. Larger buckets mean fewer, larger messages.
    - ``sync_batchnorm``: BatchNorm layers take their statistics over the whole global batch
      (two sums over the processes in the forward pass, one in the backward pass, per layer and
      step), so N processes reproduce one; by default (False) each process normalises its share
      with the share's own statistics and keeps its own running statistics, as PyTorch's
      DistributedDataParallel does without SyncBatchNorm.

    A hand-written loop, every process running the same code on the same GLOBAL batches::

        dp = xpnn.distributed.DataParallel()
        dp.broadcast_model(model)          # rank 0's weights and random streams everywhere
        for xb, yb in batches:             # the same global batches on every process
            out, value = dp.train_step(model, loss, optimizer, xb, yb, params)

    or ``dp.forward_backward(...)`` (summed gradients in ``p.grad``), then your own update.
    """

    def __init__(self, communicator: Communicator | None = None, *, bucket_size: int = 25 * 2**20,
                 sync_batchnorm: bool = False):
        if communicator is not None and not isinstance(communicator, Communicator):
            raise TypeError(f"DataParallel: communicator must be an xpnn.distributed.Communicator, got "
                            f"{type(communicator).__name__}")
        self.bucket_size = check_int(bucket_size, "bucket_size", "DataParallel", minimum=1)
        self.sync_batchnorm = check_bool(sync_batchnorm, "sync_batchnorm", "DataParallel")
        self.comm = init() if communicator is None else communicator
        self._buffers = {}  # (namespace, dtype) -> the flat bucket
        self._layers = {}  # (what, id(model)) -> (model, its layers of that kind): see _cached
        self._epoch = []  # (value, rows, weight sum or None, outputs or None) per step, fit only
        self._keep_outputs = False  # fit has metrics to compute from the outputs

    @property
    def rank(self) -> int:
        return self.comm.rank

    @property
    def size(self) -> int:
        return self.comm.size

    def share(self, n: int) -> tuple[int, int]:
        """(start, stop) of this process's rows of a global batch of ``n``."""
        return _share(n, self.rank, self.size)

    # -- the step
    def forward_backward(self, model, loss, x, y, params=None, sample_weight=None):
        """``training.forward_backward`` on this process's share of the global batch ``(x, y)``
        (``sample_weight``), then the gradients summed over all processes: every process ends
        with the gradient of the global batch's mean loss in each ``p.grad``. Returns the
        share's ``(output, loss value)``, device arrays (not reduced: no per-step read)."""
        params = model.parameters() if params is None else params
        n = x.shape[0]
        start, stop = self.share(n)
        if stop == start:
            raise ValueError(f"DataParallel: a batch of {n} samples leaves process {self.rank} of {self.size} "
                             "none; every global batch needs at least one sample per process")
        local_weight = None if sample_weight is None else sample_weight[start:stop]
        if sample_weight is None:
            scale = (stop - start) / n
        else:  # the loss divides by the share's weight sum: W_r / W makes it the batch's
            xp = namespace_of(sample_weight=sample_weight)
            total = xp.sum(sample_weight)
            scale = xp.sum(local_weight) / xp.where(total > 0, total, xp.ones_like(total))
        streams, norms = self._random_streams(model), self._synchronized(model)
        for stream in streams:
            stream.set_batch_share(start, n)
        for layer in norms:
            layer.set_batch_sum(self._sum_over_ranks, n)
        try:
            # the loss's gradient scaled at its source, so that every process's backward pass
            # carries dL/d(output) of the GLOBAL mean loss: what synchronised BatchNorm sums
            out, value = step_module.forward_backward(model, _Scaled(loss, scale), x[start:stop, ...],
                                                      y[start:stop, ...], params, local_weight)
        finally:
            for stream in streams:
                stream.set_batch_share(None)
            for layer in norms:
                layer.set_batch_sum(None)
        self.allreduce_gradients(params)
        return out, value

    def _sum_over_ranks(self, array):
        xp = namespace_of(array=array)
        flat = xp.reshape(array, (-1,))
        return xp.reshape(self.comm.allreduce_sum(xp.asarray(flat, copy=True)), tuple(array.shape))

    def _synchronized(self, model) -> list:
        if not self.sync_batchnorm:
            return []
        # the layers that declare they can take their statistics over processes
        return self._cached("norms", model, lambda: [layer for layer in model.walk() if hasattr(layer, "set_batch_sum")])

    def _cached(self, what: str, model, find) -> list:
        # walking the layers every step costs; the model is kept with its entry so that a new
        # model given the id of a collected one is not mistaken for it
        held = self._layers.get((what, id(model)))
        if held is None or held[0] is not model:
            held = self._layers[(what, id(model))] = (model, find())
        return held[1]

    def train_step(self, model, loss, optimizer, x, y, params=None, sample_weight=None):
        """``forward_backward`` then ``optimizer.step(params)``: the same update on every
        process. Returns the share's ``(output, loss value)``."""
        params = model.parameters() if params is None else params
        out, value = self.forward_backward(model, loss, x, y, params, sample_weight)
        optimizer.step(params)
        return out, value

    def allreduce_gradients(self, params, scale=1.0) -> None:
        """Replace each trainable ``p.grad`` by the sum over processes of ``scale * p.grad``
        (``scale`` a number or a 0-d array), through one flat buffer of at most
        ``bucket_size`` bytes: gradients are copied in one after another (a large one split
        across buckets), each full bucket is summed in one collective call and copied out."""
        active = [p for p in params if p.trainable and p.grad is not None]
        groups = {}
        for p in active:  # one buffer per dtype: a model is normally all one
            groups.setdefault(p.grad.dtype, []).append(p)
        for group in groups.values():
            self._allreduce_group(group, scale)

    def _allreduce_group(self, group, scale) -> None:
        xp = namespace_of(grad=group[0].grad)
        dtype = group[0].grad.dtype
        itemsize = xp.finfo(dtype).bits // 8
        total = sum(math.prod(p.grad.shape) for p in group)
        capacity = max(1, min(self.bucket_size // itemsize, total))
        key = (id(xp), dtype)
        buffer = self._buffers.get(key)
        if buffer is None or buffer.shape[0] < capacity:
            buffer = self._buffers[key] = xp.zeros((capacity,), dtype=dtype)
        pieces, parts, used = [], {}, 0  # pieces: (param index, start in buffer, count)

        def flush():
            reduced = self.comm.allreduce_sum(buffer[:used])
            for index, at, count in pieces:
                parts.setdefault(index, []).append(xp.asarray(reduced[at:at + count], copy=True))
            pieces.clear()

        for index, p in enumerate(group):
            flat = xp.reshape(p.grad, (-1,))
            if not (isinstance(scale, (int, float)) and scale == 1.0):
                flat = flat * scale
            done = 0
            while done < flat.shape[0]:
                count = min(capacity - used, flat.shape[0] - done)
                buffer[used:used + count] = flat[done:done + count]
                pieces.append((index, used, count))
                used += count
                done += count
                if used == capacity:
                    flush()
                    used = 0
        if used:
            flush()
        for index, p in enumerate(group):
            chunks = parts[index]
            flat = chunks[0] if len(chunks) == 1 else xp.concat(chunks)
            p.grad = xp.reshape(flat, tuple(p.grad.shape))

    def _random_streams(self, model) -> list:
        return self._cached("streams", model, model.all_random_streams)

    # -- the same state everywhere
    def broadcast_model(self, model, optimizer=None) -> None:
        """Rank 0's weights and other state arrays (BatchNorm's running statistics), its
        random streams' states and, with ``optimizer``, its optimizer state, on every process."""
        named = model.named_state()
        sent = None
        if self.comm.is_root:
            sent = {"state": [to_numpy(held.value) for _, held in named],
                    "streams": [s.state_dict() for s in self._random_streams(model)],
                    "optimizer": None if optimizer is None else optimizer.state_dict()}
        sent = self.comm.broadcast(sent)
        if self.comm.is_root:
            return
        for (_, held), array in zip(named, sent["state"]):
            held.value = asarray_like(array, like=held.value)
        for stream, state in zip(self._random_streams(model), sent["streams"]):
            stream.load_state_dict(state)
        if optimizer is not None:
            optimizer.load_state_dict(sent["optimizer"], model.parameters())

    # -- what Trainer.run calls (xpnn/training/loop.py)
    def check(self, model, samples: int, step: int, where: str) -> None:
        """Before any work: every process needs a share of every batch (and BatchNorm two rows
        of it)."""
        smallest = min(step, samples % step or step)
        need = max([1, *(layer.min_training_batch for layer in model.walk())])
        if smallest // self.size < need:
            raise ValueError(
                f"{where}: batch_size={step} leaves a batch of {smallest} samples, which {self.size} processes "
                f"cannot share with at least {need} each (distributed: batch_size is the global batch); "
                "choose another batch_size")

    def begin(self, trainer) -> None:
        """Rank 0's model, optimizer, random streams and shuffling order everywhere; the
        callbacks that print or write kept on rank 0 alone."""
        trainer.rank = self.rank
        self._keep_outputs = bool(trainer.metrics)
        self.broadcast_model(trainer.model, trainer.optimizer)
        state = self.comm.broadcast(trainer.shuffle_rng.bit_generator.state if self.comm.is_root else None)
        trainer.shuffle_rng.bit_generator.state = state
        if not self.comm.is_root:
            trainer.callbacks = [c for c in trainer.callbacks if not isinstance(c, ROOT_ONLY_CALLBACKS)]
        self._epoch = []

    def fit_step(self, model, loss, optimizer, x, y, params, sample_weight=None):
        """``train_step`` for ``fit`` (after ``begin``): also keeps what the epoch's logs need."""
        out, value = self.train_step(model, loss, optimizer, x, y, params, sample_weight)
        start, stop = self.share(x.shape[0])
        xp = namespace_of(x=x)
        weight = None if sample_weight is None else xp.sum(sample_weight[start:stop])
        self._epoch.append((value, stop - start, weight, out if self._keep_outputs else None))
        return out, value

    def epoch_logs(self, trainer, y_epoch, bounds, validation) -> dict:
        """The epoch's logs, the same on every process: rank 0 gathers each process's losses
        (one host read per process and epoch) and outputs, computes the loss, the training
        metrics over the whole epoch (replaying the batches in order) and the validation logs
        (alone: its numbers are then exactly a single process's, and metrics whose state does
        not add up across processes, such as AUC's, need no merging), then broadcasts them."""
        xp = namespace_of(y=y_epoch)
        records, self._epoch = self._epoch, []
        values = to_numpy(xp.astype(xp.stack([r[0] for r in records]), xp.float64)).tolist()
        if records[0][2] is not None:
            sizes = to_numpy(xp.astype(xp.stack([r[2] for r in records]), xp.float64)).tolist()
        else:
            sizes = [float(r[1]) for r in records]
        outs = None
        if trainer.metrics:
            outs = to_numpy(xp.concat([r[3] for r in records], axis=0))
        gathered = self.comm.gather((values, sizes, [r[1] for r in records], outs))
        logs = None
        if self.comm.is_root:
            weighted = [v * s for rank_values, rank_sizes, _, _ in gathered for v, s in zip(rank_values, rank_sizes)]
            logs = {"loss": sum(weighted) / sum(s for _, rank_sizes, _, _ in gathered for s in rank_sizes)}
            if trainer.metrics:
                self._replay_metrics(trainer, xp, y_epoch, bounds, gathered)
                logs.update({metric.name: metric.result() for metric in trainer.metrics})
            if validation is not None:
                X_val, y_val, w_val = validation
                logs.update({f"val_{k}": v for k, v in evaluate_arrays(
                    trainer.model, X_val, y_val, trainer.loss, trainer.metrics, trainer.batch_size, w_val).items()})
        return self.comm.broadcast(logs)

    @staticmethod
    def _replay_metrics(trainer, xp, y_epoch, bounds, gathered) -> None:
        offsets = [0] * len(gathered)  # where each rank's next batch starts in its outputs
        for batch, (start, stop) in enumerate(bounds):
            pieces = []
            for rank, (_, _, rows, outs) in enumerate(gathered):
                pieces.append(outs[offsets[rank]:offsets[rank] + rows[batch]])
                offsets[rank] += rows[batch]
            out = asarray_like(pieces[0] if len(pieces) == 1 else _host_concat(pieces), like=y_epoch)
            for metric in trainer.metrics:
                metric.update(out, y_epoch[start:stop, ...])

    def agree_on_stop(self, trainer) -> None:
        """Rank 0's decision to stop (EarlyStopping, TerminateOnNaN, any callback) on every
        process, so that no process trains on alone."""
        stop, reason = self.comm.broadcast((trainer.stop_training, trainer.history.stop_reason))
        trainer.stop_training, trainer.history.stop_reason = stop, reason

    def __repr__(self) -> str:
        return f"DataParallel({self.comm!r}, bucket_size={self.bucket_size}, sync_batchnorm={self.sync_batchnorm})"


class _Scaled:
    """``loss`` whose backward pass returns ``scale`` times its gradient (the value unchanged)."""

    def __init__(self, loss, scale):
        self.loss, self.scale = loss, scale

    def forward(self, pred, target, sample_weight=None):
        value, backward = (self.loss.forward(pred, target) if sample_weight is None
                           else self.loss.forward(pred, target, sample_weight=sample_weight))
        return value, lambda: backward() * self.scale


def _host_concat(pieces):
    # host NumPy arrays, concatenated without naming numpy (only xpnn/backend may)
    return host_namespace().concat(pieces, axis=0)


def check_distributed(distributed, where: str) -> None:
    """TypeError unless ``distributed`` is one of what ``data_parallel`` takes; starts nothing."""
    if not (distributed is None or isinstance(distributed, (bool, DataParallel, Communicator))):
        raise TypeError(f"{where}: distributed must be True, False, an xpnn.distributed.Communicator or a "
                        f"DataParallel, got {type(distributed).__name__}")


def data_parallel(distributed, where: str) -> DataParallel | None:
    """``fit``'s ``distributed`` argument as a DataParallel: None/False none, True one over
    ``init()``, a Communicator one over it, a DataParallel itself."""
    if distributed is None or distributed is False:
        return None
    if distributed is True:
        return DataParallel()
    if isinstance(distributed, DataParallel):
        return distributed
    if isinstance(distributed, Communicator):
        return DataParallel(distributed)
    raise TypeError(f"{where}: distributed must be True, False, an xpnn.distributed.Communicator or a "
                    f"DataParallel, got {type(distributed).__name__}")
