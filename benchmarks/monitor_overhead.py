"""What ``xpnn.TrainingMonitor`` adds to a training step (issue 14: under 10% of a W2 step).

Two copies of the same W2 model (784-512-512-10, batch 128, Adam, float32, the data of
``_workloads.py``) train side by side: one with bare ``train_step`` calls, one with a monitor
attached (forward hooks) calling ``observe_step()`` after each step and ``end_epoch()`` (the one
read back from the device) at the end of each timed block, as ``fit`` does per epoch. The
blocks alternate (plain then monitored, monitored then plain, ...); the report gives each one's median time per
step over the rounds and the ratio of the medians. ``--every N`` is the monitor's sampling.

    python benchmarks/monitor_overhead.py                  # numpy, W2, 40 steps x 15 rounds, every=10
    python benchmarks/monitor_overhead.py --backend cupy --workload W3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy", choices=("numpy", "cupy"))
    parser.add_argument("--workload", default="W2")
    parser.add_argument("--steps", type=int, default=None, help="steps per timed block (default: the workload's)")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--every", type=int, default=10, help="TrainingMonitor(every=N), default its default")
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (default: the library's own)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:  # read by the BLAS libraries when numpy is first imported, just below
        for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[variable] = str(args.threads)
    import xpnn
    from xpnn.training import train_step

    from _contenders import xpnn_model
    from _device import Device
    from _workloads import WORKLOADS, host_batches

    device, workload = Device(args.backend), WORKLOADS[args.workload]
    steps = args.steps or workload.steps
    host = host_batches(workload)

    def build():
        with xpnn.use_backend(args.backend):
            xpnn.set_seed(0)
            model = xpnn_model(workload)
            batches = [(xpnn.asarray(x), xpnn.asarray(y)) for x, y in host]
        return model, batches, xpnn.CrossEntropy(validate=False), xpnn.Adam(lr=1e-3)

    plain, watched = build(), build()
    monitor = xpnn.TrainingMonitor(watched[0], every=args.every, verbose=0)

    def block(setup, observe):
        model, batches, loss, optimizer = setup
        params = model.parameters()
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(steps):
            xb, yb = batches[i % len(batches)]
            train_step(model, loss, optimizer, xb, yb, params)
            if observe:
                monitor.observe_step()
        if observe:
            monitor.end_epoch()
        device.sync()
        return (time.perf_counter() - start) / steps, (time.process_time() - cpu) / steps

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        block(plain, False), block(watched, True)  # warm-up: allocator, BLAS threads, first binding
        times = {"plain": [], "monitored": []}
        for round_ in range(args.rounds):  # A B, B A, A B...: neither always runs first
            order = (("plain", plain, False), ("monitored", watched, True))
            for name, setup, observe in order if round_ % 2 == 0 else order[::-1]:
                times[name].append(block(setup, observe))
    print(f"{workload.describe()}, backend {args.backend} ({device.describe()}), {steps} steps x "
          f"{args.rounds} rounds, every={args.every}")
    # wall time is what a user waits; the process's CPU time (all its threads) is steadier on a
    # shared machine, where other processes stretch wall time at random
    for column, clock in ((0, "wall"), (1, "CPU")):
        plain_ms, watched_ms = (statistics.median(t[column] for t in times[k]) * 1e3
                                for k in ("plain", "monitored"))
        print(f"  {clock:4} train_step alone: {plain_ms:8.3f} ms/step, with TrainingMonitor: {watched_ms:8.3f} "
              f"ms/step (medians); ratio {watched_ms / plain_ms:.3f} ({watched_ms / plain_ms - 1:+.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
