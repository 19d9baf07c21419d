"""What the benchmark prints: the machine and versions, then one Markdown table per workload.

Rounds are summarised by medians: a round's rate is steps / seconds of one timed block, a
row's rate is the median over rounds, and a ratio is the median over rounds of the
per-round ratio (each round times every implementation back to back, so a slow spell of
the machine hits both sides of a ratio). ``spread`` is (max - min) / median of the rates.
"""

from __future__ import annotations

import datetime
import importlib
import os
import platform
import statistics
import subprocess
import sys
import time

from _device import cpu_model


def rates(blocks) -> list[float]:
    """steps/s of each round from its (steps done, seconds) pairs."""
    return [steps / seconds for steps, seconds in blocks]


def summarize(workload, timings: dict, reference: str, memory: dict) -> list[dict]:
    """One dict per implementation: medians, spread, the reference/implementation ratio."""
    ref = rates(timings[reference])
    rows = []
    for label, blocks in timings.items():
        mine = rates(blocks)
        median = statistics.median(mine)
        rows.append({
            "implementation": label,
            "steps_per_s": median,
            "samples_per_s": median * workload.batch,
            "flop_per_s": median * workload.flop_per_step,
            "spread": (max(mine) - min(mine)) / median,
            "ratio": statistics.median(r / m for r, m in zip(ref, mine)),
            "rounds": len(mine),
            "peak_bytes": memory.get(label),
        })
    return rows


def markdown_table(rows: list[dict], reference: str, notes: dict) -> str:
    head = ("| implementation | steps/s | samples/s | GFLOP/s | spread | "
            f"{reference} / impl | peak MiB |")
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        peak = row["peak_bytes"]
        lines.append(
            f"| {row['implementation']} | {_sig(row['steps_per_s'])} | {_sig(row['samples_per_s'])} | "
            f"{_sig(row['flop_per_s'] / 1e9)} | {row['spread'] * 100:.0f}% | "
            f"{row['ratio']:.2f} | {'-' if peak is None else f'{peak / 2**20:,.0f}'} |")
    for label, why in notes.items():
        lines.append(f"| {label} | {why} | | | | | |")
    return "\n".join(lines)


def _sig(value: float) -> str:
    """Three significant figures, thousands separated: 12,300 / 123 / 1.23."""
    if value >= 100:
        return f"{float(f'{value:.3g}'):,.0f}"
    return f"{value:.3g}"


def environment(device, args_line: str, threads: str) -> list[str]:
    """Lines saying when, where and with what this was measured."""
    from _contenders import version_of

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [
        f"date: {datetime.date.today().isoformat()}",
        f"device: {device.describe()}; nproc {usable}",
        f"cpu: {cpu_model()}",
        f"python {platform.python_version()}, numpy {version_of('numpy')} ({blas()}), "
        f"array-api-compat {version_of('array_api_compat')}",
        f"xpnn {version_of('xpnn')} ({git_revision()}), torch {version_of('torch')}, "
        f"scikit-learn {version_of('sklearn')}"
        + (f", cupy {version_of('cupy')}" if device.on_gpu else ""),
        f"threads: {threads}",
        f"command: {args_line}",
    ]
    if device.on_gpu and os.environ.get("CUPY_TF32"):
        lines.append(f"CUPY_TF32={os.environ['CUPY_TF32']}: CuPy matmuls may use TF32, torch's do not")
    return lines


def blas() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "BLAS unknown: threadpoolctl not installed"
    for pool in threadpool_info():
        if pool.get("user_api") == "blas" and "numpy" in pool.get("filepath", ""):
            return f"{pool['internal_api']} {pool.get('version')}, {pool['num_threads']} threads"
    return "BLAS not identified"


def git_revision() -> str:
    """The commit xpnn was measured at, "+dirty" when the library has uncommitted changes."""
    try:
        xpnn = importlib.import_module("xpnn")
        root = os.path.dirname(os.path.dirname(os.path.abspath(xpnn.__file__)))
        run = lambda *cmd: subprocess.run(["git", "-C", root, *cmd], capture_output=True,  # noqa: E731
                                          text=True, timeout=10).stdout.strip()
        commit = run("rev-parse", "--short", "HEAD")
        dirty = run("status", "--porcelain", "--", "xpnn")
        return (commit or "no git") + ("+dirty" if dirty else "")
    except Exception:
        return "no git"


class OtherLoad:
    """How busy the rest of the machine was since this object was made: CPU time of all
    processes (from /proc/stat) less what this process and its children used, as a share of
    all cores. Two cores shared with anything else make every number noisy (a BLAS thread
    that loses its core stalls the step waiting for it), so every table says how much."""

    def __init__(self):
        self.start = self._read()

    @staticmethod
    def _read():
        try:
            with open("/proc/stat") as handle:
                fields = [int(v) for v in handle.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        busy = sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0)  # less idle, iowait
        mine = os.times()
        own = mine.user + mine.system + mine.children_user + mine.children_system
        return time.perf_counter(), busy / os.sysconf("SC_CLK_TCK"), own

    def share(self):
        """Other processes' CPU use as a fraction of all cores, or None where unknown."""
        end = self._read()
        if self.start is None or end is None or end[0] <= self.start[0]:
            return None
        others = max(0.0, (end[1] - self.start[1]) - (end[2] - self.start[2]))
        return others / ((end[0] - self.start[0]) * (os.cpu_count() or 1))


def wait_until_quiet(limit_s: float, threshold: float = 0.05) -> bool:
    """Poll in half-second windows until other processes use under ``threshold`` of the
    cores, for at most ``limit_s`` seconds; True when it got quiet."""
    deadline = time.perf_counter() + limit_s
    while True:
        probe = OtherLoad()
        time.sleep(0.5)
        share = probe.share()
        if share is None or share < threshold:
            return True
        if time.perf_counter() > deadline:
            return False


def load_line(shares) -> str:
    known = [s for s in shares if s is not None]
    if not known:
        return "load of other processes: unknown"
    return (f"other processes used {statistics.median(known):.0%} of the cores in the median round "
            f"(most: {max(known):.0%})" + ("; NOISY, compare with care" if max(known) > 0.10 else ""))


def command_line() -> str:
    return " ".join(["python", os.path.relpath(sys.argv[0]), *sys.argv[1:]])
