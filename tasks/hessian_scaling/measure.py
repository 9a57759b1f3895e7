"""Time and peak memory of one Fig. 7 point (a backend of `network.POINTS` at one image side), measured in this
process: `run_point`, and `run_point_guarded` with a thread count and an address-space cap (for a process of its
own: `isolate.run_point_in_subprocess`); `skipped` is the row of a point that was not measured (its status
"out_of_budget", "timeout" or "error" and why). `python -m tasks.hessian_scaling.measure METHOD SIDE ...` measures
one point and prints it as one JSON line (the new-interpreter way, where the point server cannot fork).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import time

from .network import POINTS, build_net, check_point, make_call


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


def skipped(method: str, side: int, status: str, note: str, **extra) -> dict:
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
        return skipped(method, side, "out_of_budget", f"{type(err).__name__}")
    except RuntimeError as err:
        if "alloc" not in str(err).lower():
            raise
        return skipped(method, side, "out_of_budget", str(err).splitlines()[0][:200])


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
