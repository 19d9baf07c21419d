"""MLP training throughput: xpnn against its peers, in one process, in interleaved rounds.

    python benchmarks/mlp_train.py                        # numpy, W1-W4, every peer
    python benchmarks/mlp_train.py --backend cupy         # the GPU, W1-W5
    python benchmarks/mlp_train.py --workloads W1 --profile   # where xpnn's step spends its time

Every implementation trains the same ReLU MLP (softmax cross-entropy, Adam lr 1e-3,
float32) on the same synthetic batches, already on the device. After a warm-up, each round
times one block of ``--steps`` steps of every implementation in turn (A B C A B C ...), and
the tables give medians over rounds and the median per-round ratio xpnn/peer. Peak memory is
read afterwards in a fresh process per implementation (a process's peak RSS is a high-water
mark of everything it ever ran). See benchmarks/README.md for the table and how to read it.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time

# numpy and torch read their thread counts when imported, so --threads is applied before
# anything below imports them: the helper modules are imported inside main().
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("numpy", "cupy"), default="numpy")
    parser.add_argument("--workloads", default=None,
                        help="comma-separated, e.g. W1,W2 (default: W1-W4 on numpy, W1-W5 on cupy)")
    parser.add_argument("--peers", default=None,
                        help="comma-separated from fit,torch,sklearn,handwritten,gemm,sklearn-partial "
                             "(default: all but sklearn-partial; 'none' for xpnn alone)")
    parser.add_argument("--steps", type=int, default=None,
                        help="timed steps per block (default: per workload, see _workloads.py)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps before the rounds")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for BLAS and torch (default: the libraries' own, all cores)")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="before each round, wait up to this long for other processes to go "
                             "under 5%% of the cores (for shared machines; default: don't wait)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory processes")
    parser.add_argument("--profile", action="store_true",
                        help="instead of timing: cProfile xpnn's step and print the top functions")
    parser.add_argument("--json", metavar="PATH", help="also write every result to this file")
    parser.add_argument("--probe", help=argparse.SUPPRESS)  # "W2:torch": one memory reading
    args = parser.parse_args(argv)
    if args.rounds < 1 or (args.steps is not None and args.steps < 1) or (args.warmup or 0) < 0:
        parser.error("--rounds and --steps must be >= 1, --warmup >= 0")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        for variable in THREAD_VARIABLES:
            os.environ[variable] = str(args.threads)
    import _contenders
    import _report
    from _device import Device
    from _workloads import WORKLOADS

    device = Device(args.backend)
    threads = apply_threads(args.threads)
    if args.probe:
        return memory_probe(args.probe, device)

    names = args.workloads.split(",") if args.workloads else [
        w for w in WORKLOADS if device.on_gpu or not WORKLOADS[w].gpu_only]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise SystemExit(f"unknown workload(s) {unknown}; known: {', '.join(WORKLOADS)}")
    peers = (list(_contenders.DEFAULT_PEERS) if args.peers is None
             else [] if args.peers == "none" else args.peers.split(","))
    bad = [p for p in peers if p not in _contenders.CONTENDERS or p == "xpnn"]
    if bad:
        raise SystemExit(f"unknown peer(s) {bad}; known: {', '.join(list(_contenders.CONTENDERS)[1:])}")

    print("\n".join(_report.environment(device, _report.command_line(), threads)), flush=True)
    results = []
    for name in names:
        workload = WORKLOADS[name]
        print(f"\n## {workload.describe()}", flush=True)
        if workload.gpu_only and not device.on_gpu:
            print(f"skipped: GPU only ({workload.flop_per_step / 1e12:.1f} TFLOP a step); use --backend cupy")
            continue
        if args.profile:
            profile(workload, device, args)
            continue
        timings, notes, loads = time_rounds(workload, ["xpnn", *peers], device, args)
        memory = {} if args.no_memory else peak_memory(workload, ["xpnn", *peers], timings, args)
        rows = _report.summarize(workload, timings, "xpnn step", memory)
        print(f"{workload.flop_per_step / 1e9:.3g} GFLOP a step counted (6 x {workload.weights:,} weights "
              f"x {workload.batch}); the matmuls a step needs are {workload.gemm_flop_per_step / 1e9:.3g} "
              f"GFLOP. {steps_for(workload, args)} steps a block, {args.rounds} rounds; "
              f"{_report.load_line(loads)}.\n")
        print(_report.markdown_table(rows, "xpnn", notes), flush=True)
        results.append({"workload": workload.name, "widths": workload.widths, "batch": workload.batch,
                        "steps": steps_for(workload, args), "rows": rows, "notes": notes,
                        "steps_per_s_by_round": {label: _report.rates(blocks)
                                                 for label, blocks in timings.items()},
                        "other_load_per_round": loads})
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"environment": _report.environment(device, _report.command_line(), threads),
                       "results": results}, handle, indent=1)
    return 0


def apply_threads(count) -> str:
    """Give torch the same thread count as BLAS and say what both use."""
    import _report

    torch_threads = "torch not installed"
    try:
        import torch

        if count:
            torch.set_num_threads(count)
        torch_threads = f"torch {torch.get_num_threads()}"
    except ImportError:
        pass
    return f"numpy BLAS: {_report.blas()}; {torch_threads}"


def steps_for(workload, args) -> int:
    return args.steps if args.steps is not None else workload.steps


def build(name, workload, host, device):
    """(implementation, None) or (None, why not)."""
    from _contenders import CONTENDERS, Unavailable, missing_library

    why = missing_library(name)
    if why:
        return None, why
    try:
        return CONTENDERS[name][0](workload, host, device), None
    except Unavailable as error:
        return None, str(error)
    except Exception as error:  # one peer failing must not hide the others' results
        if name == "xpnn":
            raise
        return None, f"failed: {type(error).__name__}: {error}"


def time_rounds(workload, names, device, args):
    """{row label: [(steps done, seconds) per round]}, {name: why it did not run}, and the
    share of the cores other processes used in each round."""
    from _report import OtherLoad, wait_until_quiet
    from _workloads import host_batches

    host = host_batches(workload)
    runners, notes = {}, {}
    for name in names:
        runner, why = build(name, workload, host, device)
        if runner is None:
            notes[name] = why
        else:
            runners[runner.label] = runner
    steps = steps_for(workload, args)
    warmup = args.warmup if args.warmup is not None else workload.warmup
    for runner in runners.values():
        if warmup:
            runner.run(warmup)
    timings, loads = {label: [] for label in runners}, []
    for _ in range(args.rounds):
        if args.wait_quiet:
            wait_until_quiet(args.wait_quiet)
        load = OtherLoad()
        for label, runner in runners.items():
            gc.collect()  # not inside anyone's timed block
            start = time.perf_counter()
            done = runner.run(steps)  # ends with a device synchronisation
            timings[label].append((done, time.perf_counter() - start))
        loads.append(load.share())
    return timings, notes, loads


def peak_memory(workload, names, timings, args) -> dict:
    """{row label: peak bytes}, each read by ``memory_probe`` in a process of its own."""
    from _contenders import CONTENDERS

    found = {}
    for name in names:
        cls = CONTENDERS[name][0]
        if cls.label not in timings or cls.memory_kind is None:
            continue
        command = [sys.executable, os.path.abspath(__file__), "--backend", args.backend,
                   "--probe", f"{workload.name}:{name}"]
        if args.threads:
            command += ["--threads", str(args.threads)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if done.returncode == 0:
            found[cls.label] = json.loads(done.stdout.strip().splitlines()[-1])["bytes"]
        else:
            print(f"memory of {cls.label}: probe failed: {done.stderr.strip()[-300:]}", file=sys.stderr)
    return found


def memory_probe(spec: str, device) -> int:
    """Build one implementation in this fresh process, run a few steps, print its peak.

    Libraries are imported and BLAS is touched before the meter starts, so the figure is
    what the implementation holds and allocates (parameters, optimizer state, its copy of
    the batches, the step's temporaries), not the cost of importing torch."""
    import importlib

    from _contenders import CONTENDERS
    from _workloads import WORKLOADS, host_batches

    workload_name, name = spec.split(":")
    workload, (cls, module) = WORKLOADS[workload_name], CONTENDERS[name]
    if module:
        importlib.import_module(module)
    warm = device.xp.ones((64, 64), dtype=device.xp.float32)
    warm @ warm
    if cls.memory_kind == "torch":
        import torch

        square = torch.ones(64, 64, device=device.torch_device)
        (square @ square).sum().item()
    host = host_batches(workload)
    meter = device.memory_meter(cls.memory_kind)
    meter.start()
    runner = cls(workload, host, device)
    runner.run(2)  # the first step creates the optimizer state, the second reuses it
    print(json.dumps({"bytes": meter.peak_bytes(), "meter": meter.label}))
    return 0


def profile(workload, device, args) -> None:
    """cProfile over one block of xpnn's step; the top functions by own and cumulative time."""
    import cProfile
    import pstats

    from _contenders import XpnnStep
    from _handwritten import HandwrittenStep
    from _workloads import host_batches

    host = host_batches(workload)
    steps = steps_for(workload, args)
    warmup = args.warmup if args.warmup is not None else workload.warmup
    for cls in (XpnnStep, HandwrittenStep):  # unprofiled first, for the per-step overhead
        runner = cls(workload, host, device)
        runner.run(max(warmup, 1))
        start = time.perf_counter()
        runner.run(steps)
        print(f"{cls.label}: {(time.perf_counter() - start) / steps * 1e6:,.0f} us a step unprofiled")
    runner = XpnnStep(workload, host, device)
    runner.run(max(warmup, 1))
    profiler = cProfile.Profile()
    profiler.enable()
    runner.run(steps)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
    print(f"\n{steps} profiled steps (times include cProfile's own overhead):")
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    sys.exit(main())
