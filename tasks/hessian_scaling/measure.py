"""Time and peak memory of one Fig. 7 point (a backend of `network.POINTS` at one image side), and the runner
that gives each point a fresh process.

`run_point` measures in this process; `run_point_guarded` adds a thread count and an address-space cap;
`run_point_in_subprocess` runs it in a process of its own under a time and memory budget: a child forked by the
point server (`server.py`, which imported torch once), else a new interpreter (`python -m
tasks.hessian_scaling.measure METHOD SIDE ...`, one JSON line); `run_grid` runs every (method, side) point. Each
returns a dict (a DataFrame for `run_grid`) with status "ok", "out_of_budget", "timeout" or "error". Used by
the `hessian_scaling` task and the `python -m benchmarks.hessian_scaling` script.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from .network import POINTS, build_net, check_point, estimate_bytes, make_call
from .server import PointServer

ROOT = Path(__file__).resolve().parents[2]  # the folder holding the `tasks` package
_SERVER = PointServer()  # started on the first point measured in this process
CHILD = "tasks.hessian_scaling.measure"  # this module, as the child process runs it


def _rss_mb() -> float:
    """The process's peak resident set so far, in MB (since the last `_reset_peak`)."""
    try:
        with open("/proc/self/status") as status:  # Linux: VmHWM, which `_reset_peak` can reset
            return next(int(x.split()[1]) for x in status if x.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _reset_peak() -> None:
    """Start the peak-RSS mark again from what is resident now (Linux), so that imports and earlier work in this
    process do not hide the growth of the point measured next."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass


def run_point(
    method: str,
    side: int,
    *,
    batch_size: int = 1,
    channels: int = 3,
    device: str = "cpu",
    repeats: int = 3,
    threshold: int = 4096,
    time_budget: float = math.inf,
) -> dict:
    """Time (median of `repeats` after one warm-up) and peak memory of one curvature call, in-process.

    Returns a dict with method, side, pixels, time_s, peak_mem_mb (extra peak RSS over the baseline on
    CPU, `max_memory_allocated` growth on CUDA), baseline_rss_mb, peak_rss_mb, repeats and status "ok".
    """
    import warnings

    import torch

    check_point(method)
    warnings.filterwarnings("ignore", message="Full backward hook")
    torch.manual_seed(0)
    net = build_net(channels).to(device)
    x = torch.rand(batch_size, channels, side, side, device=device)
    call = make_call(method, net, x, threshold)
    # Lazy library set-up (kernels, thread pools) would otherwise count as this point's memory.
    make_call(method, net, x[:1, :, :8, :8], threshold)()
    measured = _time_and_memory(call, torch.device(device), repeats, time_budget)
    return {
        "method": method,
        "side": side,
        "pixels": side * side,
        "batch_size": batch_size,
        "channels": channels,
        "device": device,
        **measured,
        "threshold": threshold,
        "status": "ok",
        "note": "",
    }


def _time_and_memory(call, device, repeats: int, time_budget: float) -> dict:
    """Median time of `repeats` calls after one warm-up, and the peak memory they add (see `run_point`)."""
    import torch

    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        base_alloc = torch.cuda.memory_allocated()
    _reset_peak()
    baseline = _rss_mb()
    times = []
    for i in range(repeats + 1):
        sync()
        start = time.perf_counter()
        call()
        sync()
        times.append(time.perf_counter() - start)
        # A slow first call is its own measurement: the warm-up matters only for small, fast points.
        if i == 0 and times[0] * (repeats + 1) > 0.5 * time_budget:
            break
    measured = times[1:] or times
    peak = _rss_mb()
    mem = (torch.cuda.max_memory_allocated() - base_alloc) / 2**20 if cuda else peak - baseline
    return {
        "time_s": float(sorted(measured)[len(measured) // 2]),
        "peak_mem_mb": mem,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": peak,
        "repeats": len(measured),
    }


def _limit_address_space(budget_bytes: float) -> None:
    try:
        vm_kib = next(
            int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmSize")
        )
    except (OSError, StopIteration):
        return
    limit = int(
        vm_kib * 1024 + budget_bytes + 2**30
    )  # what is mapped now + budget + slack for threads
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))


def _skipped(method: str, side: int, status: str, note: str, **extra) -> dict:
    return {
        "method": method,
        "side": side,
        "pixels": side * side,
        "time_s": math.nan,
        "peak_mem_mb": math.nan,
        "status": status,
        "note": note,
        **extra,
    }


def run_point_in_subprocess(
    method: str,
    side: int,
    *,
    batch_size: int = 1,
    channels: int = 3,
    device: str = "cpu",
    repeats: int = 3,
    threshold: int = 4096,
    time_budget: float = 120.0,
    memory_budget_gb: float = 4.0,
    threads: int = 1,
) -> dict:
    """`run_point` in a fresh Python process; over-budget points return status out_of_budget or timeout."""
    check_point(method)
    need = estimate_bytes(
        method, side, batch_size=batch_size, channels=channels, threshold=threshold
    )
    if need > memory_budget_gb * 2**30:
        return _skipped(
            method,
            side,
            "out_of_budget",
            f"estimated {need / 2**30:.1f} GiB > {memory_budget_gb} GiB",
        )
    options = {
        "batch_size": batch_size,
        "channels": channels,
        "device": device,
        "repeats": repeats,
        "threshold": threshold,
        "time_budget": time_budget,
        "memory_budget_gb": memory_budget_gb,
        "threads": threads,
    }
    flags = [
        arg for key, value in options.items() for arg in (f"--{key.replace('_', '-')}", str(value))
    ]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    if hasattr(
        os, "fork"
    ):  # a child of the point server: a process of its own, torch already imported
        return _SERVER.run(method, side, options)
    cmd = [sys.executable, "-m", CHILD, method, str(side), *flags]
    try:
        proc = subprocess.run(
            cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=time_budget
        )
    except subprocess.TimeoutExpired:
        return _skipped(method, side, "timeout", f"over the {time_budget:g} s time budget")
    return _child_result(proc, method, side)


def _child_result(proc: subprocess.CompletedProcess, method: str, side: int) -> dict:
    """The point a finished child printed, or why it printed none."""
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and lines:
        return json.loads(lines[-1])
    if proc.returncode in (-9, 137):
        return _skipped(method, side, "out_of_budget", "killed (out of memory)")
    return _skipped(method, side, "error", (proc.stderr.strip().splitlines() or ["?"])[-1][:200])


def run_point_guarded(
    method: str, side: int, *, threads: int = 1, memory_budget_gb: float = math.inf, **kwargs
) -> dict:
    """`run_point` with `threads` torch threads under an address-space cap of `memory_budget_gb` above what is
    mapped now (run it in a process of its own); running out of memory gives status "out_of_budget"."""
    import torch

    torch.set_num_threads(threads)
    if math.isfinite(memory_budget_gb):
        _limit_address_space(memory_budget_gb * 2**30)
    try:
        return run_point(method, side, **kwargs)
    except (MemoryError, torch.OutOfMemoryError) as err:
        return _skipped(method, side, "out_of_budget", f"{type(err).__name__}")
    except RuntimeError as err:
        if "alloc" not in str(err).lower():
            raise
        return _skipped(method, side, "out_of_budget", str(err).splitlines()[0][:200])


def run_grid(methods, sides, **kwargs):
    """Every (method, side) point; after a method's first budget failure its larger sides are skipped."""
    import pandas as pd

    rows = []
    for method in methods:
        failed = None
        for side in sorted(sides):
            if failed is not None:
                rows.append(
                    _skipped(method, side, "out_of_budget", f"side {failed} was over budget")
                )
                continue
            row = run_point_in_subprocess(method, side, **kwargs)
            print(
                f"  {method:>20} side {side:>4}: {row['status']:>13}  time {row['time_s']:.4g} s  "
                f"mem {row['peak_mem_mb']:.4g} MB {row.get('note', '')}",
                flush=True,
            )
            rows.append(row)
            if row["status"] in ("out_of_budget", "timeout"):
                failed = side
    return pd.DataFrame(rows)


def _point_main(argv=None) -> int:
    """The child process of `run_point_in_subprocess`: one point, printed as one JSON line."""
    p = argparse.ArgumentParser(description="One Hessian-scaling point, printed as JSON.")
    p.add_argument("method", choices=POINTS)
    p.add_argument("side", type=int)
    for flag, kind in (
        ("--batch-size", int),
        ("--channels", int),
        ("--repeats", int),
        ("--threshold", int),
        ("--threads", int),
        ("--time-budget", float),
        ("--memory-budget-gb", float),
    ):
        p.add_argument(flag, type=kind, required=True)
    p.add_argument("--device", required=True)
    a = p.parse_args(argv)
    print(
        json.dumps(
            run_point_guarded(
                a.method,
                a.side,
                threads=a.threads,
                memory_budget_gb=a.memory_budget_gb,
                batch_size=a.batch_size,
                channels=a.channels,
                device=a.device,
                repeats=a.repeats,
                threshold=a.threshold,
                time_budget=a.time_budget,
            )
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(_point_main())
