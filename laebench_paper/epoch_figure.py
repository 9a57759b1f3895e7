"""An OOD score's AUROC along training, from the run's experiments that evaluate training snapshots (`snapshots:`
in a grid; metrics `auroc/<score>@epoch=<e>`) of the same data as the experiment judged (issue 35, item 2).

`epoch_rows(raw, dataset, score)` picks those rows (our scoring convention; AUROC and the AUROC over ink-matched
pairs), `auroc_by_epoch(ev, run_dir)` draws them as Table 3's third figure (two panels, one colour per method
label: the mean over seeds with its marker, each seed a thin line); `benchmarks/ood_epochs.py` prints the table.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.report.metric_names import metric_parts
from laebench_paper.plotting import (
    add_subplots,
    draw_lines,
    legend_outside,
    new_figure,
    save_figure,
    style,
)

MEASURES = {"auroc": "AUROC", "auroc_inkmatched": "AUROC over ink-matched pairs"}


def epoch_rows(raw: pd.DataFrame, score: str = "sigma2_output", **where) -> pd.DataFrame:
    """One row per (experiment, method, seed, epoch, measure) with its value, from `raw` (ok trial rows) where
    the metric is `<measure>/<score>@epoch=<e>` in our convention; `where` filters columns (`dataset="mnist"`)."""
    for column, value in where.items():
        raw = raw[raw[column] == value]
    raw = raw[raw.metric.notna() & raw.metric.str.contains("@epoch=", regex=False)]
    if raw.empty:
        return pd.DataFrame(columns=["experiment", "method", "seed", "epoch", "measure", "value"])
    parts = pd.DataFrame([metric_parts(m) for m in raw.metric], index=raw.index)
    raw = raw.join(parts)
    keep = (
        raw.measure.isin(list(MEASURES))
        & (raw.score == score)
        & (raw.convention == "ours")
        & (raw.sweep == "epoch")
    )
    out = raw[keep].rename(columns={"sweep_value": "epoch"})
    return out[["experiment", "method", "seed", "epoch", "measure", "value"]].sort_values(
        ["experiment", "method", "epoch", "seed"]
    )


def auroc_by_epoch(ev, run_dir: Path) -> Path | None:
    """sigma2_output AUROC against the training epoch of the snapshots, for the run's OOD experiments on this
    experiment's data; None when the run evaluated no snapshots."""
    if ev.run_raw is None:
        return None
    rows = epoch_rows(ev.run_raw, "sigma2_output", task="ood", dataset=ev.dataset)
    if rows.empty:
        return None
    fig = new_figure(8.4, 3.2)
    axes = add_subplots(fig, 1, len(MEASURES), sharey=True)[0]
    styles = style(ev)
    for ax, (measure, title) in zip(axes, MEASURES.items()):
        part = rows[rows.measure == measure]
        ax.axhline(0.5, color="grey", lw=0.8, ls=":")
        draw_lines(ax, part, "epoch", styles, spread="seeds")
        ax.set(title=title, xlabel="training epoch", ylim=(0, 1.02))
    axes[0].set_ylabel("sigma2_output AUROC")
    legend_outside(fig, axes)
    experiments = ", ".join(dict.fromkeys(rows.experiment))
    fig.suptitle(
        f"{experiments}: AUROC of the training snapshots (mean over seeds; thin: each seed)",
        fontsize=9,
    )
    return save_figure(fig, ev, run_dir, "auroc_by_epoch")


auroc_by_epoch.caption = (
    "Along training: the sigma2_output AUROC (left) and its AUROC over ink-matched pairs (right) of each "
    "snapshot the grid evaluated (`snapshots:`), against its training epoch; the mean over seeds with the "
    "method's marker and each seed as a thin line; dotted: chance."
)
