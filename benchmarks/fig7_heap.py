"""Fig. 7's CPU timings with glibc's default allocator and with freed memory kept (`steady_heap`), side by side.

glibc gives every freed block above its mmap threshold (at most 32 MiB) back to the system and maps it afresh at
the next allocation, so each call of a curvature backend whose tensors cross that size pays the page faults of all
of them again: a step in the time-vs-side curve that belongs to the C library, not to the algorithm. This prints
each point's time both ways, their ratio, and each backend's log-log slope between consecutive sides.

    python -m benchmarks.fig7_heap [--sides 512 576 704 768 1024] [--methods approx backpack_kfac] [--repeats 5]

Run it alone on the machine: it times.
"""

from __future__ import annotations

import argparse
import math

from tasks.hessian_scaling.isolate import run_point_in_subprocess


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", type=int, nargs="+", default=[512, 576, 704, 768, 1024])
    parser.add_argument("--methods", nargs="+", default=["approx", "backpack_kfac"])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(
        f"{'method':<14}{'side':>6}{'default s':>11}{'kept s':>9}{'ratio':>7}{'slope default':>15}{'slope kept':>12}"
    )
    for method in args.methods:
        previous = None
        for side in args.sides:
            t = {
                heap: run_point_in_subprocess(
                    method, side, repeats=args.repeats, steady_heap=heap, memory_budget_gb=8.0
                ).get("time_s", math.nan)
                for heap in (False, True)
            }
            slopes = ["", ""]
            if previous is not None:
                step = math.log(side**2 / previous[0] ** 2)
                slopes = [f"{math.log(t[h] / previous[1][h]) / step:.2f}" for h in (False, True)]
            print(
                f"{method:<14}{side:>6}{t[False]:>11.4f}{t[True]:>9.4f}{t[False] / t[True]:>7.2f}"
                f"{slopes[0]:>15}{slopes[1]:>12}"
            )
            previous = (side, t)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
