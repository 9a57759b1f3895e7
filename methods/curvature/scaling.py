"""Time and memory of the diagonal-GGN backends against image size: the paper's figure 7 (section 3).

Net: 5 x [Conv2d(C, C, 3, padding=1), Tanh] on `[B, C, side, side]`, output compared to the input.
Points (`POINTS`): exact / approx / mix (`diag_ggn`), backpack_diag_exact / backpack_kfac (BackPACK with
MSELoss(sum)) and fwd_bwd (one plain loss.backward(), the baseline). `run_point_in_subprocess` runs each point
in a fresh process (`python -m methods.curvature.scaling METHOD SIDE ...`, which prints one JSON line) under a
time and memory budget; `run_grid`, `fit_slopes` (log-log slopes) and `plot` make the figure. Used by the
`hessian_scaling` task and the `python -m benchmarks.hessian_scaling` script.
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

from .engine import MODES

POINTS = (*MODES, "backpack_diag_exact", "backpack_kfac", "fwd_bwd")
FIT_MIN_SIDE = 32
ROOT = Path(__file__).resolve().parents[2]  # the folder holding the `methods` package
# Peak bytes per [B, D, D] float32 matrix, calibrated on CPU at sides 32 and 64 (exact keeps a factor L of M
# at a layer's input and output, ~2.1x at side 64 plus fixed chunk buffers, 4.5x at side 32; BackPACK's
# DiagGGNExact keeps its [D, B, ...] square-root factors of every layer, 11x at side 64).
QUADRATIC = {"exact": 3, "backpack_diag_exact": 12}


def build_net(channels: int = 3, depth: int = 5):
    from torch import nn

    return nn.Sequential(
        *[m for _ in range(depth) for m in (nn.Conv2d(channels, channels, 3, padding=1), nn.Tanh())]
    )


def estimate_bytes(
    method: str,
    side: int,
    *,
    batch_size: int = 1,
    channels: int = 3,
    threshold: int = 4096,
    itemsize: int = 4,
) -> int:
    """Rough peak memory of one point (linear methods: a few dozen feature maps)."""
    d = channels * side * side
    if method in QUADRATIC or (method == "mix" and d <= threshold):
        return QUADRATIC.get(method, QUADRATIC["exact"]) * batch_size * d * d * itemsize
    return 60 * batch_size * d * itemsize


def check_point(method: str) -> None:
    if method not in POINTS:
        raise ValueError(f"Unknown method '{method}'. Available: {', '.join(POINTS)}.")


def _make_call(method: str, net, x, threshold: int):
    import torch
    from torch import nn

    if method in MODES:
        from .engine import diag_ggn

        return lambda: diag_ggn(net, x, method, threshold=threshold)
    if method == "fwd_bwd":

        def fwd_bwd():
            net.zero_grad(set_to_none=True)
            (0.5 * (net(x) - x).square().sum()).backward()

        return fwd_bwd
    import backpack
    from backpack.extensions import KFAC, DiagGGNExact

    net = backpack.extend(nn.Sequential(*net, nn.Flatten()))  # BackPACK's MSELoss takes [B, D] only
    target = x.flatten(1)
    loss_fn = backpack.extend(nn.MSELoss(reduction="sum"))
    extension = DiagGGNExact() if method == "backpack_diag_exact" else KFAC(mc_samples=1)

    def call():
        net.zero_grad(set_to_none=True)
        with backpack.backpack(extension):
            loss_fn(net(x), target).backward()

    torch.manual_seed(0)  # KFAC draws Monte-Carlo samples
    return call


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


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
    call = _make_call(method, net, x, threshold)
    cuda = torch.device(device).type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    # Lazy library set-up (kernels, thread pools) would otherwise count as this point's memory.
    _make_call(method, net, x[:1, :, :8, :8], threshold)()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        base_alloc = torch.cuda.memory_allocated()
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
        "method": method,
        "side": side,
        "pixels": side * side,
        "batch_size": batch_size,
        "channels": channels,
        "device": device,
        "time_s": float(sorted(measured)[len(measured) // 2]),
        "peak_mem_mb": mem,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": peak,
        "repeats": len(measured),
        "threshold": threshold,
        "status": "ok",
        "note": "",
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
    cmd = [
        sys.executable,
        "-m",
        "methods.curvature.scaling",
        method,
        str(side),
        "--batch-size",
        str(batch_size),
        "--channels",
        str(channels),
        "--device",
        device,
        "--repeats",
        str(repeats),
        "--threshold",
        str(threshold),
        "--time-budget",
        str(time_budget),
        "--memory-budget-gb",
        str(memory_budget_gb),
        "--threads",
        str(threads),
    ]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    try:
        proc = subprocess.run(
            cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=time_budget
        )
    except subprocess.TimeoutExpired:
        return _skipped(method, side, "timeout", f"over the {time_budget:g} s time budget")
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


def fit_slopes(df, min_side: int = FIT_MIN_SIDE):
    """Per method, the log-log slope of time and of peak memory against pixel count (ok points, side >= min_side).

    Points of "mix" whose feature size channels*side^2 is <= its threshold run the exact regime and are left
    out, so its slope describes the diagonal regime that large images use.
    """
    import numpy as np
    import pandas as pd

    keep = (df.status == "ok") & (df.side >= min_side)
    if "threshold" in df:
        keep &= ~((df.method == "mix") & (df.channels * df.pixels <= df.threshold))
    out = []
    for method, group in df[keep].groupby("method", sort=False):
        row = {"method": method, "sides": ",".join(str(s) for s in sorted(group.side))}
        for col, name in (("time_s", "time_slope"), ("peak_mem_mb", "memory_slope")):
            ok = group[group[col] > 0]
            row[name] = (
                float(np.polyfit(np.log(ok.pixels), np.log(ok[col]), 1)[0])
                if len(ok) >= 2
                else math.nan
            )
        out.append(row)
    return pd.DataFrame(out, columns=["method", "time_slope", "memory_slope", "sides"])


def plot(df, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    ok = df[df.status == "ok"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, col, label in (
        (axes[0], "time_s", "time [s]"),
        (axes[1], "peak_mem_mb", "peak memory [MB]"),
    ):
        sns.lineplot(data=ok[ok[col] > 0], x="pixels", y=col, hue="method", marker="o", ax=ax)
        ax.set(xscale="log", yscale="log", xlabel="pixels (side^2)", ylabel=label)
    if (
        axes[1].get_legend() is not None
    ):  # no legend when no memory point is above the measurement floor
        axes[1].get_legend().remove()
    if axes[0].get_legend() is not None:
        sns.move_legend(axes[0], "upper left", fontsize=8, title=None)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


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
