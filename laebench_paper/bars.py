"""Bar charts of the paper's figures: per-seed means with CI bars per method (Table 2's -log p(x), Table 4's
attributes), each method in its report-wide colour (`plotting.style`), its seeds as dots with its marker, the
paper's number as a black diamond, the legend outside the bars."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns

from laebench_paper.plotting import (
    add_subplots,
    legend_outside,
    new_figure,
    save_figure,
    style,
    t_interval,
)


def _marks(
    ax, ev, part: pd.DataFrame, group: list, x: str, hue, markers: dict, seeds: bool
) -> None:
    """Over each bar (or point): the paper's number as a black diamond and, with `seeds`, each seed's value as a
    small white marker of the method's shape."""
    hues = list(dict.fromkeys(part.method)) if hue else [None]
    for i, xv in enumerate(dict.fromkeys(part[x])):
        for j, method in enumerate(hues):
            label, metric = (xv, group[0]) if not hue else (method, xv)
            pos = i if not hue else i - 0.4 + 0.8 / len(hues) * (j + 0.5)
            values = part[(part.method == label) & (part.metric == metric)].value
            if seeds:
                ax.scatter(
                    [pos] * len(values),
                    values,
                    marker=markers[label],
                    s=10,
                    zorder=4,
                    color="white",
                    edgecolors="k",
                    linewidths=0.5,
                )
            row = ev.paper(label, metric)
            if row is not None and np.isfinite(row["value"]):
                ax.scatter(pos, row["value"], marker="D", color="k", s=18, zorder=5)


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
    palette, markers = style(ev)  # each method its report-wide colour and marker
    fig = new_figure(4.2 * len(groups) if panels else 9, 3.2)
    axes = add_subplots(fig, 1, len(groups))[0]
    for ax, group in zip(axes, groups):
        part = d[d.metric.isin(group)]
        x, hue = ("method", None) if panels else ("metric", "method")
        colours = dict(hue=hue or "method", palette=palette, legend=hue is not None)
        if log:  # bars on a log axis start nowhere: points with their intervals
            sns.pointplot(
                data=part,
                x=x,
                y="value",
                errorbar=t_interval,
                linestyle="none",
                capsize=0.1,
                markers=[markers[m] for m in dict.fromkeys(part.method)],
                ax=ax,
                **colours,
            )
        else:
            sns.barplot(
                data=part, x=x, y="value", errorbar=t_interval, capsize=0.1, ax=ax, **colours
            )
        _marks(ax, ev, part, group, x, hue, markers, seeds=not log)
        ax.set(
            yscale="log" if log else "linear", xlabel="", ylabel=group[0] if panels else "accuracy"
        )
        ax.tick_params(axis="x", rotation=30, labelsize=7)
    legend_outside(fig, axes)
    seeds = "" if log else "; ○ each seed"
    fig.suptitle(f"{ev.experiment}: {title} (mean, 95% CI over seeds{seeds}; ◆ paper)", fontsize=9)
    return save_figure(fig, ev, run_dir, name)


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


attributes.caption = (
    "Table 4: KNN accuracy per CelebA attribute with 10 labels (bars: mean and 95% CI over seeds; small markers: "
    "each seed); ◆ the paper's number."
)
