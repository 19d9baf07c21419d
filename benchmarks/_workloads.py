"""The workloads of issue 5, their synthetic data, and the work one training step does.

Every implementation trains the same network on the same host batches: the data is made
once here, with a fixed seed, and each implementation moves it to its device before timing.
"""

from __future__ import annotations

import dataclasses

import numpy

SEED = 0
BATCHES = 4  # distinct pre-made batches, cycled: enough that no step sees the previous batch


@dataclasses.dataclass(frozen=True)
class Workload:
    name: str
    widths: tuple  # input, hidden..., classes
    batch: int
    steps: int  # default timed steps per block; sized so one block takes about 0.1-0.5 s on 2 CPU cores
    warmup: int  # default untimed steps before the first round
    gpu_only: bool = False

    @property
    def layers(self) -> list[tuple[int, int]]:
        """(in_features, out_features) of each Dense layer."""
        return list(zip(self.widths[:-1], self.widths[1:]))

    @property
    def hidden(self) -> tuple:
        return tuple(self.widths[1:-1])

    @property
    def weights(self) -> int:
        """Weight-matrix entries; biases are left out of the FLOP count (under 0.2% here)."""
        return sum(a * b for a, b in self.layers)

    @property
    def flop_per_step(self) -> int:
        """The issue's convention, 6 x weights x samples: 2 for the forward matmul, 2 for the
        weight gradient, 2 for the input gradient of every layer. It is used for every row so
        FLOP/s stay proportional to steps/s; see ``gemm_flop_per_step`` for what is executed."""
        return 6 * self.weights * self.batch

    @property
    def gemm_flop_per_step(self) -> int:
        """What a step must multiply: the first layer's input gradient is not needed (the data
        has no gradient), so its 2 x in x out x batch is left out."""
        first_in, first_out = self.layers[0]
        return self.flop_per_step - 2 * first_in * first_out * self.batch

    def describe(self) -> str:
        return f"{self.name} {'-'.join(map(str, self.widths))} batch {self.batch}"


WORKLOADS = {w.name: w for w in (
    Workload("W1", (64, 128, 10), 64, steps=300, warmup=30),
    Workload("W2", (784, 512, 512, 10), 128, steps=40, warmup=5),
    Workload("W3", (784, 512, 512, 10), 1024, steps=8, warmup=2),
    Workload("W4", (1024, 2048, 2048, 10), 512, steps=3, warmup=1),
    Workload("W5", (4096, 4096, 4096, 4096, 10), 4096, steps=10, warmup=3, gpu_only=True),
)}


def host_batches(workload: Workload, count: int = BATCHES, seed: int = SEED):
    """``count`` pairs (x float32 (batch, in), y int64 (batch,)) on the host.

    Labels come from a fixed random linear teacher, so the loss really falls; the first
    samples carry every class once, so a library that sizes its output layer from the labels
    it sees (scikit-learn) builds the same network as the others."""
    rng = numpy.random.default_rng(seed)
    features, classes = workload.widths[0], workload.widths[-1]
    teacher = rng.standard_normal((features, classes), dtype=numpy.float32)
    pairs = []
    for _ in range(count):
        x = rng.standard_normal((workload.batch, features), dtype=numpy.float32)
        y = numpy.argmax(x @ teacher, axis=1).astype(numpy.int64)
        head = min(classes, workload.batch)
        y[:head] = numpy.arange(head)
        pairs.append((x, y))
    return pairs


def he_normal(rng, fan_in: int, fan_out: int):
    """Host float32 weights for the hand-written step (xpnn and torch use their own init;
    the values do not change the time of a dense step)."""
    scale = numpy.float32(numpy.sqrt(2.0 / fan_in))
    return rng.standard_normal((fan_in, fan_out), dtype=numpy.float32) * scale
