"""CNN training throughput: xpnn against PyTorch eager, in one process, in interleaved rounds,
and where xpnn's step spends its time.

    python benchmarks/cnn_train.py                       # numpy, batch 64 and 256, torch if installed
    python benchmarks/cnn_train.py --backend cupy        # the GPU
    python benchmarks/cnn_train.py --batches 64 --rounds 3 --steps 5   # a short run

The network is LeNet-style, on 28x28x1 synthetic images (10 classes from a fixed random
linear teacher, 4 pre-made batches cycled, float32): conv 5x5 x32 + ReLU -> max-pool 2 ->
conv 5x5 x64 + ReLU -> max-pool 2 -> dense 1024-128 + ReLU -> dense 128-10, softmax
cross-entropy, Adam (lr 1e-3). As in ``mlp_train.py``, each round times one block of
``--steps`` steps of every implementation in turn (xpnn, torch, xpnn, torch...), a block ends
with a device synchronisation, and the table gives medians over rounds and the median
per-round ratio. Then, separately, the xpnn step is run with timers around each part
(``--no-split`` skips it): the convolutions' im2col and col2im, the rest of the convolutions
(the matmuls, bias, ReLU and layout changes), the pooling layers, the dense layers, and the
rest (loss, zero_grad, Adam). A third row, "gemm", runs the step's matmuls alone (same
shapes, preallocated outputs): the bound no im2col step can beat. On a GPU each timer synchronises the device first, so the split
costs time there and only the shares are meaningful.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time

import numpy

SEED = 0
LR = 1e-3
BATCHES = 4
CLASSES = 10


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("numpy", "cupy"), default="numpy")
    parser.add_argument("--batches", default="64,256", help="comma-separated batch sizes (default 64,256)")
    parser.add_argument("--steps", type=int, default=None,
                        help="timed steps per block (default: 10 for batch <= 64, else 4; 50 on a GPU)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--peers", default="torch", help="'torch' (default) or 'none'")
    parser.add_argument("--no-split", action="store_true", help="skip the timed split of xpnn's step")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="before each round, wait up to this long for other processes to go "
                             "under 5%% of the cores (for shared machines; default: don't wait)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or (args.steps is not None and args.steps < 1) or args.warmup < 0:
        parser.error("--rounds and --steps must be >= 1, --warmup >= 0")
    return args


def host_batches(batch: int):
    """4 pairs (x float32 (batch, 1, 28, 28), y int64 (batch,)) from a fixed seed."""
    rng = numpy.random.default_rng(SEED)
    teacher = rng.standard_normal((28 * 28, CLASSES), dtype=numpy.float32)
    pairs = []
    for _ in range(BATCHES):
        x = rng.standard_normal((batch, 1, 28, 28), dtype=numpy.float32)
        y = numpy.argmax(x.reshape(batch, -1) @ teacher, axis=1).astype(numpy.int64)
        pairs.append((x, y))
    return pairs


def flop_per_step(batch: int) -> int:
    """Multiply-adds x 2 of the convolutions and dense layers, times 3 (forward, weight
    gradient, input gradient), less the first convolution's input gradient (never computed)."""
    conv1 = 2 * 32 * 1 * 25 * 24 * 24
    conv2 = 2 * 64 * 32 * 25 * 8 * 8
    dense = 2 * (1024 * 128 + 128 * 10)
    return batch * (3 * (conv1 + conv2 + dense) - conv1)


# ---------------------------------------------------------------- the implementations

class XpnnStep:
    label = "xpnn step"

    def __init__(self, batch, host, device):
        import xpnn

        self.device = device
        with xpnn.use_backend(device.backend):
            xpnn.set_seed(SEED)
            self.model = xpnn.Model(
                xpnn.Conv2D(1, 32, 5, activation="relu"), xpnn.MaxPool2D(2),
                xpnn.Conv2D(32, 64, 5, activation="relu"), xpnn.MaxPool2D(2),
                xpnn.Flatten(), xpnn.Dense(1024, 128, activation="relu"), xpnn.Dense(128, CLASSES))
            self.batches = [(xpnn.asarray(x), xpnn.asarray(y)) for x, y in host]
        self.loss = xpnn.CrossEntropy(validate=False)
        self.optimizer = xpnn.Adam(lr=LR)
        self.params = self.model.parameters()

    def run(self, steps: int) -> int:
        from xpnn.training import train_step

        for i in range(steps):
            xb, yb = self.batches[i % len(self.batches)]
            train_step(self.model, self.loss, self.optimizer, xb, yb, self.params)
        self.device.sync()
        return steps


class TorchEager:
    label = "torch"

    def __init__(self, batch, host, device):
        import torch

        self.torch = torch
        self.device = torch.device(device.torch_device)
        self.cuda = self.device.type == "cuda"
        if self.cuda:
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
        torch.manual_seed(SEED)
        nn = torch.nn
        self.model = nn.Sequential(
            nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 5), nn.ReLU(),
            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1024, 128), nn.ReLU(), nn.Linear(128, CLASSES),
        ).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=LR,
                                          **({"fused": True} if self.cuda else {}))
        self.batches = [(torch.from_numpy(x).to(self.device), torch.from_numpy(y).to(self.device))
                        for x, y in host]

    def run(self, steps: int) -> int:
        F = self.torch.nn.functional
        for i in range(steps):
            xb, yb = self.batches[i % len(self.batches)]
            self.optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(self.model(xb), yb).backward()
            self.optimizer.step()
        if self.cuda:
            self.torch.cuda.synchronize()
        return steps


class GemmOnly:
    """The matmuls an im2col step of this network must do, alone, same shapes, outputs
    preallocated: conv1 forward and weight gradient (its input gradient is never needed),
    conv2 forward, weight and column gradients, the two dense layers' three each (the first
    dense layer's input gradient included). No step written this way can beat this row."""

    label = "gemm (the step's matmuls alone)"

    def __init__(self, batch, host, device):
        xp, rng = device.xp, numpy.random.default_rng(SEED)
        shapes = [  # (a, b) for a @ b
            ((32, 25), (25, batch * 576)), ((32, batch * 576), (batch * 576, 25)),
            ((64, 800), (800, batch * 64)), ((64, batch * 64), (batch * 64, 800)), ((800, 64), (64, batch * 64)),
            ((batch, 1024), (1024, 128)), ((1024, batch), (batch, 128)), ((batch, 128), (128, 1024)),
            ((batch, 128), (128, 10)), ((128, batch), (batch, 10)), ((batch, 10), (10, 128)),
        ]
        self.device, self.xp = device, xp
        self.operands = [(device.asarray(rng.standard_normal(a, dtype=numpy.float32)),
                          device.asarray(rng.standard_normal(b, dtype=numpy.float32)),
                          xp.empty((a[0], b[1]), dtype=xp.float32)) for a, b in shapes]

    def run(self, steps: int) -> int:
        matmul = self.xp.matmul
        for _ in range(steps):
            for a, b, out in self.operands:
                matmul(a, b, out=out)
        self.device.sync()
        return steps


# ---------------------------------------------------------------- timing

def time_rounds(runners, steps, args):
    """({label: steps/s of each round}, the share of the cores other processes used per round)."""
    from _report import OtherLoad, wait_until_quiet

    for runner in runners:
        if args.warmup:
            runner.run(args.warmup)
    timings, loads = {runner.label: [] for runner in runners}, []
    for _ in range(args.rounds):
        if args.wait_quiet:
            wait_until_quiet(args.wait_quiet)
        load = OtherLoad()
        for runner in runners:
            gc.collect()
            start = time.perf_counter()
            done = runner.run(steps)
            timings[runner.label].append(done / (time.perf_counter() - start))
        loads.append(load.share())
    return timings, loads


def table(timings, batch, notes):
    lines = ["| implementation | steps/s | samples/s | GFLOP/s | spread | impl / torch | xpnn / impl |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    torch_rates, xpnn_rates = timings.get("torch"), timings["xpnn step"]
    for label, rates in timings.items():
        median = statistics.median(rates)
        ratio = "-" if torch_rates is None else f"{statistics.median(r / t for r, t in zip(rates, torch_rates)):.2f}"
        against = statistics.median(x / r for x, r in zip(xpnn_rates, rates))
        lines.append(f"| {label} | {median:.3g} | {median * batch:,.0f} | {median * flop_per_step(batch) / 1e9:.3g} | "
                     f"{(max(rates) - min(rates)) / median * 100:.0f}% | {ratio} | {against:.2f} |")
    for label, why in notes.items():
        lines.append(f"| {label} | {why} | | | | | |")
    return "\n".join(lines)


class Split:
    """Timers around the parts of xpnn's step: each layer's forward and backward closure by
    kind, and the Ops' im2col/col2im calls made inside a convolution. Exclusive times: a
    convolution's own share is its total less its im2col and col2im."""

    def __init__(self, runner, device):
        from xpnn.backend import ops_for, namespace_of

        self.device, self.seconds, self.current = device, {}, []
        xb = runner.batches[0][0]
        self.ops = ops_for(namespace_of(x=xb))
        for layer in runner.model.walk():
            kind = {"Conv2D": "conv", "MaxPool2D": "pooling", "Dense": "dense"}.get(type(layer).__name__)
            if kind is not None:
                layer.forward = self._timed_forward(layer.forward, kind)
        for name in ("im2col", "col2im"):
            setattr(self.ops, name, self._timed_op(getattr(self.ops, name), name))

    def restore(self):
        for name in ("im2col", "col2im"):
            delattr(self.ops, name)

    def _add(self, key, seconds):
        self.seconds[key] = self.seconds.get(key, 0.0) + seconds

    def _timed(self, function, kind):
        def timed(*a, **k):
            self.device.sync()
            self.current.append(kind)
            start = time.perf_counter()
            try:
                result = function(*a, **k)
                self.device.sync()
                return result
            finally:
                self._add(kind, time.perf_counter() - start)
                self.current.pop()
        return timed

    def _timed_forward(self, forward, kind):
        timed_forward = self._timed(forward, kind)

        def wrapper(x, training=True):
            out, backward = timed_forward(x, training)
            timed_backward = self._timed(backward, kind)
            timed_backward.can_skip_input_grad = getattr(backward, "can_skip_input_grad", False)
            return out, timed_backward
        return wrapper

    def _timed_op(self, method, name):
        def timed(*a, **k):
            if not self.current or self.current[-1] != "conv":
                return method(*a, **k)  # pooling's windows count as pooling
            self.device.sync()
            start = time.perf_counter()
            result = method(*a, **k)
            self.device.sync()
            self._add(f"conv {name}", time.perf_counter() - start)
            return result
        return timed


def split_of_step(batch, host, device, steps):
    from _report import OtherLoad

    runner = XpnnStep(batch, host, device)
    runner.run(2)
    load = OtherLoad()
    start = time.perf_counter()
    runner.run(steps)
    plain = (time.perf_counter() - start) / steps
    split = Split(runner, device)
    start = time.perf_counter()
    runner.run(steps)
    total = (time.perf_counter() - start) / steps
    split.restore()
    other = load.share()
    s = {k: v / steps for k, v in split.seconds.items()}
    parts = {
        "conv im2col": s.get("conv im2col", 0.0),
        "conv col2im": s.get("conv col2im", 0.0),
        "conv matmuls, bias, ReLU, layout": s.get("conv", 0.0) - s.get("conv im2col", 0.0) - s.get("conv col2im", 0.0),
        "max-pool": s.get("pooling", 0.0),
        "dense layers": s.get("dense", 0.0),
    }
    parts["loss, zero_grad, Adam, the rest"] = total - sum(parts.values())
    lines = [f"xpnn step, batch {batch}: {plain * 1e3:.1f} ms untimed, {total * 1e3:.1f} ms with the timers "
             f"({steps} steps); other processes used "
             f"{'an unknown share' if other is None else f'{other:.0%}'} of the cores meanwhile",
             "", "| part | ms a step | share |", "|---|---:|---:|"]
    for name, seconds in parts.items():
        lines.append(f"| {name} | {seconds * 1e3:.1f} | {seconds / total * 100:.0f}% |")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    import _report
    from _device import Device

    device = Device(args.backend)
    threads = "torch not installed"
    try:
        import torch

        threads = f"torch {torch.get_num_threads()} threads"
    except ImportError:
        pass
    print("\n".join(_report.environment(device, _report.command_line(), f"numpy BLAS: {_report.blas()}; {threads}")))
    for batch in (int(b) for b in args.batches.split(",")):
        steps = args.steps or (50 if device.on_gpu else 10 if batch <= 64 else 4)
        host = host_batches(batch)
        runners, notes = [XpnnStep(batch, host, device)], {}
        if args.peers == "torch":
            try:
                runners.append(TorchEager(batch, host, device))
            except ImportError as error:
                notes["torch"] = f"not installed ({error})"
        runners.append(GemmOnly(batch, host, device))
        print(f"\n## LeNet-style CNN, 28x28x1, batch {batch}, float32, Adam: {steps} steps a block, "
              f"{args.rounds} rounds, {flop_per_step(batch) / 1e9:.3g} GFLOP a step\n")
        timings, loads = time_rounds(runners, steps, args)
        print(f"{_report.load_line(loads)}.\n")
        print(table(timings, batch, notes), flush=True)
        if not args.no_split:
            print()
            print(split_of_step(batch, host, device, steps), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
