"""The `ood` task's per-trial figures, drawn from its per-input table: `roc_curves.png` (Fig. 9: one ROC curve per
score and convention) and `variance_histograms.png` (Fig. 10: each variance score in vs OOD)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import metrics
from .base import EvalContext


def plot_roc(table: pd.DataFrame, scores: list[str], ctx: EvalContext) -> None:
    """One axes, one ROC curve per score, each labelled with its AUROC (a panel per score drew each curve
    alone, cost three times as much to render, and its long titles ran into each other)."""
    from matplotlib.figure import Figure
    from sklearn.metrics import roc_curve

    fig = Figure(figsize=(5.6, 4.2))
    ax = fig.add_axes((0.11, 0.11, 0.5, 0.78))
    bases = list(dict.fromkeys(s.removeprefix("authors/") for s in scores))
    for s in scores:  # a score's two conventions share a colour: ours solid, the authors' dashed
        fpr, tpr, _ = roc_curve(table["is_ood"], table[s])
        auroc = metrics.auroc(table[s], table["is_ood"])
        ax.plot(
            fpr,
            tpr,
            color=f"C{bases.index(s.removeprefix('authors/')) % 10}",
            lw=1.2,
            ls="--" if s.startswith("authors/") else "-",
            label=f"{s}  {auroc:.3f}",
        )
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1)
    ax.set(xlabel="FPR", ylabel="TPR", xlim=(0, 1), ylim=(0, 1.01))
    ax.set_title(f"{ctx.experiment} / {ctx.method_label}\nOOD ROC (seed {ctx.seed})", fontsize=9)
    ax.legend(
        title="score  AUROC",
        fontsize=7,
        title_fontsize=7,
        loc="upper left",
        bbox_to_anchor=(1.02, 1),
    )
    fig.savefig(ctx.artifact_dir / "roc_curves.png", dpi=100)


def plot_histograms(table: pd.DataFrame, scores: list[str], ctx: EvalContext) -> None:
    if not scores:
        return
    from matplotlib.figure import Figure

    width = 3.6 * len(scores)
    fig = Figure(
        figsize=(width, 3.0)
    )  # fixed margins: a constrained layout doubled the drawing time
    panels = fig.subplots(
        1,
        len(scores),
        squeeze=False,
        gridspec_kw=dict(
            left=0.6 / width, right=1 - 0.15 / width, bottom=0.16, top=0.84, wspace=0.3
        ),
    )
    for ax, s in zip(panels[0], scores):
        values = np.log10(np.maximum(table[s].to_numpy(), 1e-12))
        bins = np.histogram_bin_edges(values, bins=40)
        for flag, name in ((0, "in-distribution"), (1, "OOD")):
            ax.hist(
                values[table["is_ood"].to_numpy() == flag],
                bins=bins,
                alpha=0.55,
                density=True,
                label=name,
            )
        ax.set(xlabel=f"log10 {s}", ylabel="density")
        ax.legend(fontsize=8)
    fig.suptitle(f"{ctx.experiment} / {ctx.method_label}: variance, in vs OOD")
    fig.savefig(ctx.artifact_dir / "variance_histograms.png", dpi=100)
