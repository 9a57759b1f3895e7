"""Bar charts of the paper's figures: per-seed means with CI bars per method (Table 2's -log p(x), Table 4's
attributes)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns

from laebench_paper.plotting import (
    _figure,
    _save,
    _subplots,
    _t_interval,
    style,
)


def _bars(
    ev,
    run_dir: Path,
    metrics: list[str],
    name: str,
    title: str,
    log: bool = False,
    panels: bool = True,
) -> Path | None:
    d = ev.raw[ev.raw.metric.isin(metrics)]
    if d.empty:
        return None
    groups = [[m] for m in metrics] if panels else [metrics]
    palette = style(ev)[0]  # each method its report-wide colour
    fig = _figure(4.2 * len(groups) if panels else 9, 3.2)
    for ax, group in zip(_subplots(fig, 1, len(groups))[0], groups):
        part = d[d.metric.isin(group)]
        x, hue = ("method", None) if panels else ("metric", "method")
        colours = dict(hue=hue or "method", palette=palette, legend=hue is not None)
        if log:  # bars on a log axis start nowhere: points with their intervals
            sns.pointplot(
                data=part,
                x=x,
                y="value",
                errorbar=_t_interval,
                linestyle="none",
                capsize=0.1,
                ax=ax,
                **colours,
            )
        else:
            sns.barplot(
                data=part, x=x, y="value", errorbar=_t_interval, capsize=0.1, ax=ax, **colours
            )
        hues = list(dict.fromkeys(part.method)) if hue else [None]
        xs = list(dict.fromkeys(part[x]))
        for i, xv in enumerate(xs):
            for j, method in enumerate(hues):
                label, metric = (xv, group[0]) if not hue else (method, xv)
                row = ev.paper(label, metric)
                if row is not None and np.isfinite(row["value"]):
                    pos = i if not hue else i - 0.4 + 0.8 / len(hues) * (j + 0.5)
                    ax.scatter(pos, row["value"], marker="D", color="k", s=18, zorder=5)
        ax.set(
            yscale="log" if log else "linear", xlabel="", ylabel=group[0] if panels else "accuracy"
        )
        ax.tick_params(axis="x", rotation=30, labelsize=7)
    fig.suptitle(f"{ev.experiment}: {title} (mean, 95% CI over seeds; ◆ paper)", fontsize=9)
    return _save(fig, ev, run_dir, name)


def hessian_quality(ev, run_dir: Path) -> Path | None:
    return _bars(
        ev, run_dir, ["neg_log_px", "mse"], "table2_hessian_quality", "-log p(x) and MSE", log=True
    )


hessian_quality.caption = (
    "Table 2: -log p(x) and MSE of networks sampled from each posterior (mean and 95% CI over seeds, log axis); "
    "◆ the paper's number."
)


def attributes(ev, run_dir: Path) -> Path | None:
    ref = ev.reference if ev.reference is not None else pd.DataFrame(columns=["metric"])
    names = sorted(m for m in set(ev.raw.metric) if re.fullmatch(r"accuracy/(?!n=).+", m))
    published = [m for m in dict.fromkeys(ref.metric) if m in names]
    return _bars(
        ev,
        run_dir,
        published or names[:12],
        "table4_attributes",
        "KNN accuracy per attribute",
        panels=False,
    )


attributes.caption = "Table 4: KNN accuracy per CelebA attribute with 10 labels (mean and 95% CI over seeds); ◆ the paper's number."
