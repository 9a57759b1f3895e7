"""Fig. 7 from the measured points: `fit_slopes(df, min_side)`, the log-log slopes of time and peak memory
against pixel count per backend, and `plot(df, path)`, time and memory against pixels on log-log axes.
`df` holds one row per point (method, side, pixels, time_s, peak_mem_mb, status), as `isolate.run_grid` returns
and the task's `summarize` rebuilds from its trials.
"""

from __future__ import annotations

import math
from pathlib import Path

FIT_MIN_SIDE = 32


def fit_slopes(df, min_side: int = FIT_MIN_SIDE, min_time: float = 0.0):
    """Per method, the log-log slope of time and of peak memory against pixel count (ok points, side >= min_side,
    a call of at least `min_time` seconds: each backend where its own calls are compute-dominated).

    Points of "mix" whose feature size channels*side^2 is <= its threshold run the exact regime and are left
    out, so its slope describes the diagonal regime that large images use.
    """
    import numpy as np
    import pandas as pd

    keep = (df.status == "ok") & (df.side >= min_side) & (df.time_s >= min_time)
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
