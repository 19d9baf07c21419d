"""Data-parallel scaling: steps/s of xpnn's data-parallel step for N = 1 and N = 2 ranks.

    python benchmarks/distributed_scaling.py                    # W2-W4, N = 1, 2, 5 rounds
    python benchmarks/distributed_scaling.py --workloads W2 --ranks 1,2,4 --rounds 9

Each rank runs ``DataParallel.train_step`` on its share of the workload's GLOBAL batch (the
same global batch for every N: what ``fit(distributed=True)`` does with ``batch_size``), so N
ranks do the work of one step together; a step is forward and backward on the share, the
gradients summed over the ranks in one flat buffer (``MPI_Allreduce``), the Adam update.
Every launch is a fresh ``mpiexec -n N`` job; rounds interleave the rank counts (N=1, N=2,
N=1, ...) and the table gives medians over rounds. Each job also times the gradient sum alone
(the same buffer, summed ``--steps`` times), which is the communication part of a step.

BLAS threads: N ranks share the machine's cores, so each rank gets cores // N threads
(``--threads-per-rank`` overrides), and N = 1 uses every core: the comparison is one process
using the whole machine against N processes splitting it. Needs the mpi extra
(``pip install "xpnn[mpi]"``). The model behind the numbers is in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", default="W2,W3,W4")
    parser.add_argument("--ranks", default="1,2", help="comma-separated rank counts (default 1,2)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=None, help="timed steps per job (default: per workload)")
    parser.add_argument("--threads-per-rank", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=300, help="seconds one job may take")
    parser.add_argument("--json", metavar="PATH", help="also write every number to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # "W2:steps": one mpiexec job's rank
    args = parser.parse_args(argv)
    if args.rounds < 1 or (args.steps is not None and args.steps < 1):
        parser.error("--rounds and --steps must be >= 1")
    return args


def mpiexec():
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return beside if os.path.exists(beside) else "mpiexec"


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker(*args.worker.split(":"))
    sys.path.insert(0, HERE)
    from _workloads import WORKLOADS
    from _report import OtherLoad, git_revision, load_line

    names = args.workloads.split(",")
    counts = [int(n) for n in args.ranks.split(",")]
    cores = os.cpu_count() or 1
    results, shares = {}, []
    for name in names:
        workload = WORKLOADS[name]
        steps = args.steps or max(6, 2 * workload.steps)  # a job times about 0.2-1 s on 2 cores
        for round_index in range(args.rounds):
            probe = OtherLoad()
            for n in counts:  # interleaved: a slow spell of the machine hits every N alike
                threads = args.threads_per_rank or max(1, cores // n)
                env = dict(os.environ, **{v: str(threads) for v in THREAD_VARIABLES})
                env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(HERE), env.get("PYTHONPATH", "")])
                done = subprocess.run([mpiexec(), "-n", str(n), sys.executable, os.path.abspath(__file__),
                                       "--worker", f"{name}:{steps}"], env=env, capture_output=True,
                                      text=True, timeout=args.timeout)
                if done.returncode != 0:
                    sys.stderr.write(done.stdout + done.stderr)
                    return 1
                row = json.loads(done.stdout.strip().splitlines()[-1])
                row["threads"] = threads
                results.setdefault((name, n), []).append(row)
            shares.append(probe.share())
    threads = (f"{args.threads_per_rank} BLAS thread(s) per rank" if args.threads_per_rank
               else "BLAS threads per rank = cores // N")
    print(f"xpnn {git_revision()}, {cores} cores, {args.rounds} rounds, {threads}; " + load_line(shares))
    print()
    print("| workload | ranks | global batch | per rank | steps/s | spread | vs 1 rank | all-reduce ms | "
          "all-reduce share | gradient MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    table = []
    for name in names:
        base = None
        for n in counts:
            rows = results[(name, n)]
            rates = [r["steps_per_s"] for r in rows]
            median = statistics.median(rates)
            spread = (max(rates) - min(rates)) / median
            reduce_ms = statistics.median(r["allreduce_ms"] for r in rows)
            base = median if n == counts[0] else base
            batch = WORKLOADS[name].batch
            line = {"workload": name, "ranks": n, "steps_per_s": median, "spread": spread,
                    "speedup": median / base, "allreduce_ms": reduce_ms, "share": reduce_ms * median / 1000,
                    "gradient_mb": rows[0]["gradient_bytes"] / 1e6, "rates": rates}
            table.append(line)
            print(f"| {name} | {n} | {batch} | {-(-batch // n)} | {median:.3g} | {spread:.0%} | "
                  f"{median / base:.2f} | {reduce_ms:.3g} | {line['share']:.0%} | {line['gradient_mb']:.3g} |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(table, handle, indent=1)
    return 0


def worker(name: str, steps: str) -> int:
    """One rank of one job: time ``steps`` data-parallel steps and the gradient sum alone."""
    sys.path.insert(0, HERE)
    import xpnn
    from xpnn.distributed import DataParallel, init
    from _contenders import LR, xpnn_model
    from _workloads import SEED, WORKLOADS, host_batches

    steps = int(steps)
    comm = init()
    workload = WORKLOADS[name]
    xpnn.set_seed(SEED)
    model = xpnn_model(workload)
    batches = [(xpnn.asarray(x), xpnn.asarray(y)) for x, y in host_batches(workload)]
    loss, optimizer, params = xpnn.CrossEntropy(validate=False), xpnn.Adam(lr=LR), model.parameters()
    dp = DataParallel(comm)
    dp.broadcast_model(model)
    for i in range(max(1, workload.warmup)):
        dp.train_step(model, loss, optimizer, *batches[i % len(batches)], params)
    comm.barrier()
    start = time.perf_counter()
    for i in range(steps):
        dp.train_step(model, loss, optimizer, *batches[i % len(batches)], params)
    comm.barrier()
    seconds = time.perf_counter() - start
    # the communication alone: the same gradients through the same buffer
    comm.barrier()
    start = time.perf_counter()
    for _ in range(steps):
        dp.allreduce_gradients(params)
    comm.barrier()
    reduce_seconds = time.perf_counter() - start
    if comm.is_root:
        gradient_bytes = sum(xpnn.to_numpy(p.grad).nbytes for p in params)
        print(json.dumps({"steps_per_s": steps / seconds, "allreduce_ms": 1000 * reduce_seconds / steps,
                          "gradient_bytes": gradient_bytes}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
