"""A Fig. 7 point in a process of its own, under a time and a memory budget: `run_point_in_subprocess` (a child
forked by the point server, `server.py`, which imported torch once; else a new interpreter running
`python -m tasks.hessian_scaling.measure`), and `run_grid`, every (method, side) point with a backend's larger
sides skipped after its first budget failure. Each returns the point's row (`measure.run_point`'s, or
`measure.skipped`'s: status "out_of_budget", "timeout" or "error" and why). Used by the `hessian_scaling` task and
`python -m benchmarks.hessian_scaling`.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
from pathlib import Path

from .measure import skipped
from .network import check_point, estimate_bytes

ROOT = Path(__file__).resolve().parents[2]  # the folder holding the `tasks` package
CHILD = "tasks.hessian_scaling.measure"  # the new-interpreter way: one point, one JSON line


class PointServer:
    def __init__(self):
        self.proc: subprocess.Popen | None = None

    def run(self, method: str, side: int, options: dict) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            env = {
                **os.environ,
                "PYTHONPATH": os.pathsep.join(
                    filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
                ),
                "OMP_NUM_THREADS": "1",  # each point sets its own torch threads (`threads`)
                "MKL_NUM_THREADS": "1",
            }
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tasks.hessian_scaling.server"],
                cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            atexit.register(self.close)
        self.proc.stdin.write(json.dumps({"method": method, "side": side, **options}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the Fig. 7 point server stopped (exit {self.proc.poll()})")
        return json.loads(line)

    def close(self) -> None:
        """End the server: its stdin closes, it returns; killed if it does not within seconds."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        try:
            proc.stdin.close()
            proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        proc.stdout.close()


_SERVER = PointServer()  # started on the first point measured in this process


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
    steady_heap: bool = True,
) -> dict:
    """`run_point` in a fresh Python process; over-budget points return status out_of_budget or timeout."""
    check_point(method)
    need = estimate_bytes(
        method, side, batch_size=batch_size, channels=channels, threshold=threshold
    )
    if need > memory_budget_gb * 2**30:
        return skipped(
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
        "steady_heap": int(steady_heap),
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
        return skipped(method, side, "timeout", f"over the {time_budget:g} s time budget")
    return _child_result(proc, method, side)


def _child_result(proc: subprocess.CompletedProcess, method: str, side: int) -> dict:
    """The point a finished child printed, or why it printed none."""
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and lines:
        return json.loads(lines[-1])
    if proc.returncode in (-9, 137):
        return skipped(method, side, "out_of_budget", "killed (out of memory)")
    return skipped(method, side, "error", (proc.stderr.strip().splitlines() or ["?"])[-1][:200])


def run_grid(methods, sides, **kwargs):
    """Every (method, side) point; after a method's first budget failure its larger sides are skipped."""
    import pandas as pd

    rows = []
    for method in methods:
        failed = None
        for side in sorted(sides):
            if failed is not None:
                rows.append(
                    skipped(method, side, "out_of_budget", f"side {failed} was over budget")
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
