"""Time and memory of the diagonal-GGN backends against image size: the paper's figure 7 (section 3).

The command line over `tasks.hessian_scaling` (the measurement code of the `hessian_scaling` task):
`python -m benchmarks.hessian_scaling [--quick] [--methods ...] [--sides ...]` runs every point in a fresh
process under a time and memory budget, prints the table, the log-log slopes and approx / fwd_bwd, and
writes a CSV and a PNG under benchmarks/results/. `--point METHOD SIDE` measures one point in this process.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tasks.hessian_scaling.figure import FIT_MIN_SIDE, fit_slopes, plot
from tasks.hessian_scaling.isolate import run_grid
from tasks.hessian_scaling.measure import run_point_guarded
from tasks.hessian_scaling.network import POINTS, check_point

METHODS = POINTS  # the name this script used to export
DEFAULT_SIDES = (8, 16, 32, 64, 128, 256)
QUICK_SIDES = (8, 16, 32)
DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--point", nargs=2, metavar=("METHOD", "SIDE"), help="run one point in this process"
    )
    p.add_argument(
        "--json", action="store_true", help="with --point: print the result as one JSON line"
    )
    p.add_argument("--methods", nargs="+", default=list(POINTS))
    p.add_argument("--sides", nargs="+", type=int, default=list(DEFAULT_SIDES))
    p.add_argument("--quick", action="store_true", help=f"sides {QUICK_SIDES}")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threshold", type=int, default=4096, help="feature-size switch of mode 'mix'")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--time-budget", type=float, default=120.0, help="seconds per point (subprocess timeout)"
    )
    p.add_argument("--memory-budget-gb", type=float, default=4.0)
    p.add_argument("--min-fit-side", type=int, default=FIT_MIN_SIDE)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    try:
        for method in [args.point[0]] if args.point else args.methods:
            check_point(method)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.point:
        row = run_point_guarded(
            args.point[0],
            int(args.point[1]),
            threads=args.threads,
            memory_budget_gb=args.memory_budget_gb,
            batch_size=args.batch_size,
            channels=args.channels,
            device=args.device,
            repeats=args.repeats,
            threshold=args.threshold,
            time_budget=args.time_budget,
        )
        print(json.dumps(row) if args.json else row)
        return 0
    import pandas as pd

    sides = QUICK_SIDES if args.quick else args.sides
    methods = list(dict.fromkeys([*args.methods, "fwd_bwd"]))  # the baseline is always measured
    df = run_grid(
        methods,
        sides,
        batch_size=args.batch_size,
        channels=args.channels,
        device=args.device,
        repeats=args.repeats,
        threshold=args.threshold,
        time_budget=args.time_budget,
        memory_budget_gb=args.memory_budget_gb,
        threads=args.threads,
    )
    min_side = min(sides) if args.quick else args.min_fit_side  # --quick has too few large sides
    with pd.option_context("display.width", 160, "display.max_rows", None):
        print(
            df[["method", "side", "pixels", "time_s", "peak_mem_mb", "status"]].to_string(
                index=False
            )
        )
        print(
            f"\nLog-log slopes against pixel count, fitted on ok points with side >= {min_side}"
            + (" (smaller sizes are dominated by fixed overhead)" if min_side > min(sides) else "")
            + f"; mix only where channels*side^2 > threshold={args.threshold}:"
        )
        print(fit_slopes(df, min_side).to_string(index=False))
    ok = df[df.status == "ok"].set_index(["method", "side"])
    ref = 128 if 128 in sides else max(sides)
    if ("approx", ref) in ok.index and ("fwd_bwd", ref) in ok.index:
        ratio = ok.loc[("approx", ref), "time_s"] / ok.loc[("fwd_bwd", ref), "time_s"]
        print(f"\napprox / fwd_bwd time at side {ref}: {ratio:.2f}")
    args.out.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out / "hessian_scaling.csv", index=False)
    plot(df, args.out / "hessian_scaling.png")
    print(f"wrote {args.out / 'hessian_scaling.csv'} and {args.out / 'hessian_scaling.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
