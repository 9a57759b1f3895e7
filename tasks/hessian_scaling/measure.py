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
    steady_heap: bool = False,
) -> dict:
    """Time (median of `repeats` after one warm-up) and peak memory of one curvature call, in-process.

    Returns a dict with method, side, pixels, time_s, peak_mem_mb (extra peak RSS over the baseline on
    CPU, `max_memory_allocated` growth on CUDA), baseline_rss_mb, peak_rss_mb, repeats, heap, page_faults (of the
    median timed call) and status "ok".
    `steady_heap` (CPU, a process of its own: it changes the C library's allocator for good): the timed calls
    reuse freed memory (`keep_freed_memory`); the memory is that of the warm-up, under the default allocator.
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
    measured = _time_and_memory(call, torch.device(device), repeats, time_budget, steady_heap)
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


def _time_and_memory(
    call, device, repeats: int, time_budget: float, steady_heap: bool = False
) -> dict:
    """Median time of `repeats` calls after one warm-up, and the peak memory they add (see `run_point`)."""
    import torch

    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        base_alloc = torch.cuda.memory_allocated()
    _reset_peak()
    baseline = _rss_mb()

    faults = []  # minor page faults of each call: memory the call had to map in again

    def timed() -> float:
        sync()
        start, first = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        call()
        sync()
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - first)
        return time.perf_counter() - start

    times = [timed()]
    peak = _rss_mb()  # the warm-up's: later calls under the default allocator reach the same peak
    heap = "default"
    # A slow first call is its own measurement: the warm-up matters only for small, fast points.
    if times[0] * (repeats + 1) <= 0.5 * time_budget:
        if steady_heap and not cuda and keep_freed_memory():
            heap = "kept"
            call()  # grows the heap the timed calls reuse
        times += [timed() for _ in range(repeats)]
    measured = times[1:] or times
    mem = (torch.cuda.max_memory_allocated() - base_alloc) / 2**20 if cuda else peak - baseline
    return {
        "time_s": float(sorted(measured)[len(measured) // 2]),
        "peak_mem_mb": mem,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": peak,
        "repeats": len(measured),
        "heap": heap,
        "page_faults": int(sorted(faults[1:] or faults)[len(measured) // 2]),  # the median call's
    }


def keep_freed_memory() -> bool:
    """Make glibc serve every allocation from its heap and never give freed memory back to the system (mallopt:
    M_MMAP_MAX 0, M_TRIM_THRESHOLD 2 GiB), for the rest of this process. Repeated calls then reuse their memory, as
    PyTorch's CUDA caching allocator does, instead of paying the page faults of every block above glibc's 32 MiB
    mmap threshold, which it unmaps at each free: on 2 cores that tripled the time of a 768 px approx call (0.39
    s, 0.14 s kept; `python -m benchmarks.fig7_heap`) and put steps in Fig. 7's slopes. False where the C
    library has no mallopt (not glibc): calls are then timed as they come."""
    import ctypes
    import ctypes.util

    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_max = -1, -4  # malloc.h
    return bool(mallopt(m_mmap_max, 0)) and bool(mallopt(m_trim_threshold, 2**31 - 1))


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
        ("--steady-heap", int),
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
                steady_heap=bool(a.steady_heap),
            )
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(_point_main())
