"""The best that plain array code does: a hand-written training step, and its matmuls alone.

No library, no checks, no allocation in the hot path beyond a few (batch,)-sized gathers:
every activation, delta and gradient has a preallocated buffer written with ``out=``, and
all parameters, gradients and Adam moments live in four flat buffers, so Adam is a dozen
ufunc calls for the whole network however many layers it has. The same code runs on NumPy
and CuPy (``xp`` is the native module). The gap between xpnn and this is xpnn's own overhead;
the gap between this and ``GemmRoofline`` is everything that is not a matmul.
"""

from __future__ import annotations

import math

import numpy

from _workloads import SEED, he_normal

LR, BETA_1, BETA_2, EPS = 1e-3, 0.9, 0.999, 1e-8


class HandwrittenStep:
    """ReLU MLP, softmax cross-entropy, Adam; weights (in, out) as in xpnn: z = h @ W + b."""

    label = "handwritten"
    memory_kind = "array"

    def __init__(self, workload, host_batches, device):
        xp, f32 = device.xp, device.xp.float32
        self.xp, self.device = xp, device
        layers, batch = workload.layers, workload.batch
        size = sum(a * b + b for a, b in layers)
        self.theta = xp.empty(size, dtype=f32)  # parameters
        self.grad = xp.empty(size, dtype=f32)  # written, never accumulated: no zero_grad needed
        self.m, self.v = xp.zeros(size, dtype=f32), xp.zeros(size, dtype=f32)
        self.tmp = xp.empty(size, dtype=f32)
        self.W, self.b, self.gW, self.gb = [], [], [], []
        offset = 0
        for a, b in layers:  # views into the flat buffers: matmul writes gradients in place
            self.W.append(self.theta[offset:offset + a * b].reshape(a, b))
            self.gW.append(self.grad[offset:offset + a * b].reshape(a, b))
            offset += a * b
            self.b.append(self.theta[offset:offset + b])
            self.gb.append(self.grad[offset:offset + b])
            offset += b
        rng = numpy.random.default_rng(SEED)
        for W, bias, (a, b) in zip(self.W, self.b, layers):
            W[...] = xp.asarray(he_normal(rng, a, b))
            bias[...] = 0
        # one output buffer per layer (ReLU is applied in place: its derivative reads the output)
        self.out = [xp.empty((batch, b), dtype=f32) for _, b in layers]
        self.delta = [xp.empty((batch, b), dtype=f32) for _, b in layers[:-1]]
        self.mask = [xp.empty((batch, b), dtype=bool) for _, b in layers[:-1]]
        self.rowmax = xp.empty((batch, 1), dtype=f32)
        self.rowsum = xp.empty((batch, 1), dtype=f32)
        self.rows = xp.arange(batch)
        self.loss = None  # the last step's mean loss, a 0-d device array (never read here)
        self.t = 0
        self.batches = [(device.asarray(x), device.asarray(y)) for x, y in host_batches]

    def run(self, steps: int) -> int:
        batches = self.batches
        for i in range(steps):
            x, y = batches[i % len(batches)]
            self.step(x, y)
        self.device.sync()
        return steps

    def step(self, x, y) -> None:
        xp, W, b, out = self.xp, self.W, self.b, self.out
        last = len(W) - 1
        h = x
        for l in range(last + 1):
            xp.matmul(h, W[l], out=out[l])
            out[l] += b[l]
            if l < last:
                xp.maximum(out[l], 0, out=out[l])
            h = out[l]

        # softmax cross-entropy from the logits, row maximum subtracted; d loss/d logits is
        # (softmax - onehot) / batch, built in the logits buffer itself
        z, rowmax, rowsum, rows = out[last], self.rowmax, self.rowsum, self.rows
        batch = z.shape[0]
        xp.max(z, axis=1, keepdims=True, out=rowmax)
        picked = z[rows, y]  # the label's logit, before z is overwritten
        z -= rowmax
        xp.exp(z, out=z)
        xp.sum(z, axis=1, keepdims=True, out=rowsum)
        self.loss = xp.mean(xp.log(rowsum[:, 0]) + rowmax[:, 0] - picked)
        z /= rowsum
        z[rows, y] -= 1.0
        z *= 1.0 / batch

        delta = z
        for l in range(last, -1, -1):
            h = x if l == 0 else out[l - 1]
            xp.matmul(h.T, delta, out=self.gW[l])
            xp.sum(delta, axis=0, out=self.gb[l])
            if l > 0:  # the data needs no gradient: the first layer's dx is skipped
                previous = self.delta[l - 1]
                xp.matmul(delta, W[l].T, out=previous)
                xp.greater(out[l - 1], 0, out=self.mask[l - 1])
                previous *= self.mask[l - 1]
                delta = previous

        self.adam()

    def adam(self) -> None:
        """PyTorch's Adam on the flat buffers: m and v updated in place, then
        theta -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)."""
        xp, g, m, v, tmp = self.xp, self.grad, self.m, self.v, self.tmp
        self.t += 1
        xp.subtract(g, m, out=tmp)  # m += (1 - b1)(g - m)  ==  b1 m + (1 - b1) g
        tmp *= 1.0 - BETA_1
        m += tmp
        xp.multiply(g, g, out=tmp)  # v += (1 - b2)(g^2 - v)
        tmp -= v
        tmp *= 1.0 - BETA_2
        v += tmp
        xp.sqrt(v, out=tmp)
        tmp *= 1.0 / math.sqrt(1.0 - BETA_2 ** self.t)
        tmp += EPS
        xp.divide(m, tmp, out=tmp)
        tmp *= LR / (1.0 - BETA_1 ** self.t)
        self.theta -= tmp


class GemmRoofline:
    """The matmuls of one ``HandwrittenStep`` with nothing else: per layer the forward
    h @ W, the weight gradient h^T delta and (all but the first) the input gradient delta W^T,
    with the same shapes and preallocated outputs. No step of this network can beat it."""

    label = "gemm"
    memory_kind = "array"

    def __init__(self, workload, host_batches, device):
        xp, f32, batch = device.xp, device.xp.float32, workload.batch
        self.device = device
        rng = numpy.random.default_rng(SEED)
        self.calls = []  # (a, b, out) for xp.matmul(a, b, out=out)
        for l, (a, b) in enumerate(workload.layers):
            h = xp.asarray(rng.standard_normal((batch, a), dtype=numpy.float32))
            W = xp.asarray(he_normal(rng, a, b))
            delta = xp.asarray(rng.standard_normal((batch, b), dtype=numpy.float32))
            self.calls.append((h, W, xp.empty((batch, b), dtype=f32)))
            self.calls.append((h.T, delta, xp.empty((a, b), dtype=f32)))
            if l > 0:
                self.calls.append((delta, W.T, xp.empty((batch, a), dtype=f32)))
        self.matmul = xp.matmul

    def run(self, steps: int) -> int:
        matmul, calls = self.matmul, self.calls
        for _ in range(steps):
            for a, b, out in calls:
                matmul(a, b, out=out)
        self.device.sync()
        return steps
