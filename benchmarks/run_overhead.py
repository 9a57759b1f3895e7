"""What a user waits for when there is little to do: `harness list`, a cached rerun of the demo, and the demo's first
run, each as a whole process (`python -m harness ...`, wall time), with the run's own phase times from its summary.

    python -m benchmarks.run_overhead [--repeats 3] [--first-run] [--executor ray|local] [--root DIR]

`--root` measures another checkout (e.g. an older commit's worktree) with this interpreter. The cached rerun
reuses the results of one first run; `--first-run` also times that first run (minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(args: list[str], root: Path, env: dict) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "harness", *args], cwd=root, capture_output=True, text=True, env=env
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(
            f"`harness {' '.join(args)}` failed ({done.returncode}): {done.stderr[-500:]}"
        )
    return wall, done.stdout


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--first-run", action="store_true")
    parser.add_argument("--executor", default=None, choices=("ray", "local"))
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    extra = ["--executor", args.executor] if args.executor else []
    lists = [timed(["list"], args.root, env)[0] for _ in range(args.repeats)]
    print(f"harness list: {statistics.median(lists):.2f} s (median of {args.repeats})")
    with tempfile.TemporaryDirectory() as results:
        first, out = timed(["run", "--results", results, *extra], args.root, env)
        phases = re.search(r"wall time .*", out)
        if args.first_run:
            print(
                f"demo, first run: {first:.1f} s wall; the run says: {phases and phases.group(0)}"
            )
        reruns = [
            timed(["run", "--results", results, *extra], args.root, env)[0]
            for _ in range(args.repeats)
        ]
    print(f"demo, cached rerun: {statistics.median(reruns):.2f} s (median of {args.repeats})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
