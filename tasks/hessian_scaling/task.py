"""`hessian_scaling`: time and peak memory of Hessian approximations against resolution (Fig. 7).

Runs the package's measurements (`isolate.run_point_in_subprocess`, also behind `python -m
benchmarks.hessian_scaling`) as grid trials: every (mode, side) point is its own trial and runs in its own fresh
process, so its peak memory is that point's alone. Needs no trained model. Metrics per trial: `time_s@side=<s>`,
`peak_mem_mb@side=<s>` (NaN and `over_budget@side=<s>` = 1 when the point exceeds its time or memory budget).
`summarize` adds the log-log slopes per mode (`slope_time`, `slope_memory` against pixel count, sides >=
`fit_min_side`) and writes the Fig. 7 plot (`figure.py`). Modes: `network.POINTS`: exact, approx, mix
(methods.curvature), backpack_diag_exact, backpack_kfac, fwd_bwd (baseline).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from laebench.params import Param

from ..base import EvalContext, Job, Task
from ..registry import register
from .network import POINTS as MODES


@register("hessian_scaling")
class HessianScaling(Task):
    description = "Time and memory of diagonal-GGN / KFAC backends against image size (Fig. 7)"
    needs_model = False
    param_spec = {
        "modes": Param(
            list(MODES),
            "Backends measured.",
            kind="list",
            item=Param("exact", "", kind="choice", choices=MODES),
        ),
        "sides": Param(
            [8, 16, 32, 64, 128, 256],
            "Image sides (pixels).",
            kind="list",
            item=Param(8, "", kind="int", low=4),
        ),
        "batch_size": Param(1, "Images per measured call.", kind="int", low=1),
        "channels": Param(3, "Image channels.", kind="int", low=1),
        "repeats": Param(3, "Timed repeats per point (the median is kept).", kind="int", low=1),
        "threshold": Param(
            4096, "Mode 'mix': layers with at most this many features are exact.", kind="int", low=0
        ),
        "time_budget": Param(
            120.0,
            "Seconds a point may take before it is recorded over budget.",
            low=0,
            low_open=True,
        ),
        "memory_budget_gb": Param(
            4.0, "Memory a point may use before it is recorded over budget.", low=0, low_open=True
        ),
        "steady_heap": Param(
            True,
            "CPU: time the repeats with freed memory kept for reuse, as PyTorch's CUDA allocator does (glibc "
            "otherwise unmaps blocks over 32 MiB at each free and every call pays their page faults again); "
            "memory is measured on the warm-up, under the default allocator.",
        ),
        "fit_min_side": Param(
            32, "Smallest side used by the log-log slope fit.", kind="int", low=1
        ),
        "fit_min_time": Param(
            0.0,
            "Shortest call (seconds) a point needs to enter its backend's slope fit: each backend is fitted "
            "where its own calls are compute-dominated (0: every point from fit_min_side on).",
            low=0,
        ),
    }
    directions = {
        "time_s@*": "min",
        "peak_mem_mb@*": "min",
        "slope_*": "min",
        "over_budget@*": "min",
    }
    headline = ("slope_time",)

    @classmethod
    def validate_params(cls, params: dict) -> dict:
        p = super().validate_params(params)
        fitted = [s for s in p["sides"] if s >= p["fit_min_side"]]
        if len(fitted) < 2:
            raise ValueError(
                f"hessian_scaling.fit_min_side {p['fit_min_side']} leaves {len(fitted)} of the sides "
                f"{p['sides']} to fit a slope on; it needs 2. Lower fit_min_side or add larger sides."
            )
        return p

    def jobs(self, method_labels: list[str], seeds: list[int]) -> list[Job]:
        return [
            Job(mode, seed, (("side", side),))
            for mode in self.params["modes"]
            for side in self.params["sides"]
            for seed in seeds
        ]

    def evaluate(self, ctx: EvalContext) -> list[dict]:
        from .isolate import run_point_in_subprocess

        p, side = self.params, ctx.point["side"]
        row = run_point_in_subprocess(
            ctx.method_label,
            side,
            batch_size=p["batch_size"],
            channels=p["channels"],
            device=str(ctx.device),
            repeats=p["repeats"],
            threshold=p["threshold"],
            time_budget=p["time_budget"],
            memory_budget_gb=p["memory_budget_gb"],
            steady_heap=p["steady_heap"],
        )
        if row["status"] == "error":
            raise RuntimeError(f"{ctx.method_label} at {side}x{side}: {row['note']}")
        ok = row["status"] == "ok"
        return [
            {"metric": f"time_s@side={side}", "value": row["time_s"] if ok else math.nan},
            {"metric": f"peak_mem_mb@side={side}", "value": row["peak_mem_mb"] if ok else math.nan},
            {"metric": f"over_budget@side={side}", "value": 0.0 if ok else 1.0},
        ]

    def summarize(self, raw: pd.DataFrame, artifact_dir: Path) -> list[dict]:
        from .figure import fit_slopes, plot

        parsed = raw.metric.str.extract(r"^(time_s|peak_mem_mb)@side=(\d+)$")
        table = raw.assign(kind=parsed[0], side=pd.to_numeric(parsed[1])).dropna(subset=["kind"])
        if table.empty:
            return []
        wide = table.pivot_table(
            index=["method", "side"], columns="kind", values="value", aggfunc="median"
        ).reset_index()
        wide["pixels"] = wide.side**2
        wide["channels"], wide["threshold"] = self.params["channels"], self.params["threshold"]
        wide["status"] = ["ok" if math.isfinite(t) else "out_of_budget" for t in wide.time_s]
        slopes = fit_slopes(
            wide, min_side=self.params["fit_min_side"], min_time=self.params["fit_min_time"]
        )
        if artifact_dir is not None:  # None: numbers only (a leaderboard built in memory)
            artifact_dir.mkdir(parents=True, exist_ok=True)
            wide.to_csv(artifact_dir / "scaling.csv", index=False)
            try:
                plot(wide, artifact_dir / "scaling.png")
            except Exception as exc:  # a plot is an extra; the numbers are in scaling.csv
                print(f"[hessian_scaling] plot skipped: {exc}")
        rows = []
        for r in slopes.to_dict("records"):
            n_points = len(str(r["sides"]).split(","))
            for key, metric in (("time_slope", "slope_time"), ("memory_slope", "slope_memory")):
                if math.isfinite(r[key]):
                    rows.append(
                        {"method": r["method"], "metric": metric, "value": r[key], "n": n_points}
                    )
        return rows
