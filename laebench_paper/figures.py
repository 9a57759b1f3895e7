"""The paper's figures from a grid's results, aggregated over seeds (seaborn), one PNG each under DIR/figures/.

Each function takes one experiment's `laebench_paper.claims.Evidence` and the results folder, reads the per-seed
metrics (`raw.csv` rows) or the per-trial artifacts (`artifacts/<trial id>/scores.csv`, `per_input.csv`,
`imputations.png`), writes `figures/<experiment>_<name>.png` and returns its path (None without data).
Bands and error bars are 95% Student-t intervals over seeds, as in the leaderboard; ROC curves show each seed as
a thin line instead. `laebench_paper.claims.CLAIMS` names them: scaling (Fig. 7), roc (Fig. 9),
variance_histograms (Fig. 10), imputation_grids (Fig. 11), reliability (calibration), knn (Fig. 12); the bar
charts hessian_quality (Table 2) and attributes (Table 4) are in `laebench_paper.bars`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from harness.report.evidence import read_table
from laebench_paper.plotting import (
    NOT_SCORES,
    PALETTE,
    add_subplots,
    draw_lines,
    edge_marks,
    legend_outside,
    new_figure,
    same_for_every_method,
    save_figure,
    style,
    sweep_table,
    trial_files,
)


def scaling(ev, run_dir: Path) -> Path | None:
    t = sweep_table(ev, r"^(time_s|peak_mem_mb|over_budget)@side=(\d+)$")
    if t.empty:
        return None
    t = t.assign(pixels=t.x**2)
    floor = (t.kind == "peak_mem_mb") & (t.value <= 0)  # below the measurement floor: not measured
    t.loc[floor, "value"] = np.nan
    over = t[(t.kind == "over_budget") & (t.value > 0)].drop_duplicates(["method", "x"])
    timed = t[t.kind == "time_s"].dropna(subset=["value"]).drop_duplicates(["method", "x"])
    memory = t[t.kind == "peak_mem_mb"].dropna(subset=["value"])
    unmeasured = timed.merge(memory[["method", "x"]].drop_duplicates(), how="left", indicator=True)
    styles, fig = style(ev), new_figure(8, 3.2)
    axes = add_subplots(fig, 1, 2, sharex=True)[0]
    for ax, kind, label in zip(axes, ("time_s", "peak_mem_mb"), ("time [s]", "peak memory [MB]")):
        ax.set(xscale="log", yscale="log", xlabel="pixels (side²)", ylabel=label)
        d = t[t.kind == kind].dropna(subset=["value"])
        if len(d):
            draw_lines(ax, d, "pixels", styles)
        else:
            ax.text(0.5, 0.5, "not measurable at these sizes", ha="center", transform=ax.transAxes)
        edge_marks(ax, over, styles, 0.95, "X")
        ax.margins(y=0.15)  # room above and below the data for the marks
    edge_marks(axes[1], unmeasured[unmeasured._merge == "left_only"], styles, 0.05, None)
    axes[0].scatter([], [], marker="X", color="k", label="over budget (top)")
    axes[1].scatter(
        [], [], marker="o", color="none", edgecolors="k", label="memory below floor (bottom)"
    )
    legend_outside(fig, axes)
    fig.suptitle(f"{ev.experiment}: cost against image size", fontsize=9)
    return save_figure(fig, ev, run_dir, "fig07_scaling")


scaling.caption = (
    "Fig. 7: time and peak memory of one Hessian computation against the number of pixels (log-log), mean and "
    "95% CI over repeats; X at the top: a size over the time or memory budget; a hollow marker at the bottom of "
    "the memory panel: timed, but its memory below the measurement floor. `mix` is exact while a layer has at "
    "most `threshold` features and approximate above, hence its drop once the image is large enough."
)


def _roc_panel(ax, part: pd.DataFrame, styles: tuple[dict, dict]) -> None:
    """One score's ROC curves, mean and seeds; a method-free score (the same curves for every method, such as
    ink) once, in black, not in the colour of whichever method is drawn last."""
    if same_for_every_method(part):
        name = "method-free score (the same for every method)"
        part = part[part.method == part.method.iloc[0]].assign(method=name)
        styles = ({name: "k"}, {name: "."})
    draw_lines(ax, part, "x", styles, "seeds", clip=(0, 1), markevery=20)
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1)


def roc(ev, run_dir: Path) -> Path | None:
    from sklearn.metrics import roc_curve

    grid, curves = np.linspace(0, 1, 101), []
    for label, seed, path in trial_files(ev, run_dir, "scores.csv"):
        table = read_table(path)
        for s in (c for c in table.columns if c not in NOT_SCORES):
            ok = table[s].notna()
            fpr, tpr, _ = roc_curve(table.is_ood[ok], table[s][ok])
            tpr = np.interp(grid, fpr, tpr)  # on a common grid, to average over seeds
            curves.append(pd.DataFrame(dict(method=label, seed=seed, score=s, x=grid, value=tpr)))
    if not curves:
        return None
    curves = pd.concat(curves)
    scores = list(dict.fromkeys(curves.score))
    prefixes = list(dict.fromkeys(s.rpartition("/")[0] for s in scores))
    bases = list(dict.fromkeys(s.rpartition("/")[2] for s in scores))
    styles, fig = style(ev), new_figure(2.4 * len(bases) + 1.6, 2.4 * len(prefixes) + 0.4)
    axes = add_subplots(fig, len(prefixes), len(bases), sharex=True, sharey=True)
    for i, prefix in enumerate(prefixes):
        for j, base in enumerate(bases):
            ax, score = axes[i, j], f"{prefix}/{base}".lstrip("/")
            part = curves[curves.score == score]
            if part.empty:  # a score this convention does not have: no empty panel
                ax.set_visible(False)
                continue
            _roc_panel(ax, part, styles)
            ax.set(title=score, xlabel="FPR", ylabel="TPR", xlim=(0, 1), ylim=(0, 1.01))
    legend_outside(fig, axes)
    fig.suptitle(
        f"{ev.experiment}: ROC, OOD positive (mean over seeds; thin: each seed)", fontsize=9
    )
    return save_figure(fig, ev, run_dir, "fig09_roc")


roc.caption = (
    "Fig. 9: ROC curves of each OOD score (OOD images positive), true-positive rate interpolated on a common "
    "false-positive grid: the mean over seeds (thick, with the method's marker) and each seed (thin); one panel "
    "per score and scoring convention (a score the same for every method, such as ink, drawn once in black)."
)


SETS = {"in": "in-distribution", "ood": "OOD"}  # scores.csv's `set` column, as the legend says it


def variance_histograms(ev, run_dir: Path) -> Path | None:
    frames = [
        read_table(p).assign(method=label, seed=seed)
        for label, seed, p in trial_files(ev, run_dir, "scores.csv")
    ]
    frames = [f for f in frames if any("sigma2" in c for c in f.columns)]
    if not frames:
        return None
    data = pd.concat(frames)
    scores = [c for c in data.columns if "sigma2" in c]
    panels = [  # a score a method does not have is left out, not drawn empty
        (m, sc)
        for m in dict.fromkeys(data.method)
        for sc in scores
        if data.loc[data.method == m, sc].notna().any()
    ]
    cols = min(len(scores), 4)
    rows = -(-len(panels) // cols)
    fig = new_figure(2.6 * cols, 2.1 * rows + 0.4)
    axes = add_subplots(fig, rows, cols)
    for ax, (method, score) in zip(axes.flat, panels):
        d = data[(data.method == method) & data[score].notna()].copy()
        d["log10"] = np.log10(np.maximum(d[score], 1e-12))
        # per seed, relative to that seed's in-distribution median: a scale shift between seeds is not a spike
        reference = d[d.set == "in"].groupby("seed").log10.median() if "set" in d else None
        if reference is not None and len(reference):
            d["log10"] -= d.seed.map(reference).fillna(0)
        bins = (min(d.log10.min(), -0.05), max(d.log10.max(), 0.05))  # a constant score: one spike
        sns.histplot(
            data=d.assign(set=d.set.map(SETS)),
            x="log10",
            hue="set",
            hue_order=list(SETS.values()),
            palette=PALETTE[:2],
            stat="density",
            common_norm=False,
            bins=30,
            binrange=bins,
            element="step",
            ax=ax,
        )
        ax.set(title=f"{method}\n{score}", xlabel="", ylabel="")
        ax.title.set_fontsize(8)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    legend_outside(fig, axes)
    fig.supxlabel("log10 variance, shifted by its seed's in-distribution median", fontsize=9)
    fig.supylabel("density", fontsize=9)
    fig.suptitle(f"{ev.experiment}: variance, in-distribution vs OOD (seeds aligned)", fontsize=9)
    return save_figure(fig, ev, run_dir, "fig10_variance_histograms")


variance_histograms.caption = (
    "Fig. 10: histograms of each variance score on in-distribution and OOD test images (densities), every seed's "
    "log10 variance shifted by that seed's in-distribution median so that seeds share one axis."
)


def imputation_grids(ev, run_dir: Path) -> Path | None:
    import matplotlib.image as mpimg

    first = {}
    for label, seed, path in sorted(
        trial_files(ev, run_dir, "imputations.png"), key=lambda f: f[1]
    ):
        first.setdefault(label, path)
    if not first:
        return None
    images = {label: mpimg.imread(path) for label, path in first.items()}
    cols = min(3, len(images))
    rows = -(-len(images) // cols)
    aspect = max(im.shape[1] / im.shape[0] for im in images.values())
    fig = Figure(figsize=(4.5 * aspect * cols + 0.2, 4.7 * rows), layout="constrained")
    for ax, (label, image) in zip(fig.subplots(rows, cols, squeeze=False).flat, images.items()):
        ax.imshow(image)
        ax.set_title(label, fontsize=9)
    for ax in fig.axes:
        ax.axis("off")
    fig.suptitle(f"{ev.experiment}: imputations (first seed; rows: test images)", fontsize=9)
    return save_figure(fig, ev, run_dir, "fig11_imputations")


imputation_grids.caption = (
    "Fig. 11: imputations of the masked half by each method (first seed; rows: test images)."
)


def reliability(ev, run_dir: Path) -> Path | None:
    from tasks.metrics import N_BINS

    panels, masked = {}, "classifier without imputation"
    for label, _, path in trial_files(ev, run_dir, "per_input.csv"):
        t = read_table(path)
        for name, prefix in ((label, ""), (masked, "classifier_")):
            if {f"{prefix}confidence", f"{prefix}pred", "label"} <= set(t.columns):
                panels.setdefault(name, []).append(
                    pd.DataFrame(
                        {
                            "confidence": t[f"{prefix}confidence"],
                            "correct": t[f"{prefix}pred"] == t["label"],
                        }
                    )
                )
    if not panels:
        return None
    panels = {k: v for k, v in panels.items() if k != masked} | (
        {masked: panels[masked]} if masked in panels else {}
    )
    edges = np.linspace(0, 1, N_BINS + 1)
    cols = min(4, len(panels))  # 4 a row: 7 panels in one row were too small to read on the page
    fig = new_figure(2.4 * cols, 2.6 * -(-len(panels) // cols) + 0.3)
    axes = add_subplots(fig, -(-len(panels) // cols), cols)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    for ax, (name, parts) in zip(axes.flat, panels.items()):
        d = pd.concat(parts)
        d["bin"] = np.searchsorted(edges[1:-1], d.confidence, side="left")
        b = d.groupby("bin").agg(
            accuracy=("correct", "mean"), confidence=("confidence", "mean"), n=("correct", "size")
        )
        ece = float((b.n / b.n.sum() * (b.accuracy - b.confidence).abs()).sum())
        ax.bar(
            (edges[:-1][b.index] + edges[1:][b.index]) / 2,
            b.accuracy,
            width=1 / N_BINS,
            edgecolor="k",
            lw=0.5,
        )
        ax.plot([0, 1], [0, 1], color="grey", ls=":")
        ax.set(
            xlim=(0, 1),
            ylim=(0, 1),
            xlabel="confidence",
            ylabel="accuracy",
            title=f"{name}\nECE {ece:.3f}",
        )
        ax.title.set_fontsize(8)
    fig.suptitle(f"{ev.experiment}: reliability diagrams (all seeds pooled)", fontsize=9)
    return save_figure(fig, ev, run_dir, "reliability")


reliability.caption = (
    "Fig. 11 c: reliability diagrams of the classifier on imputed images (accuracy per confidence bin, all seeds' "
    "test images pooled), with the classifier on the input without imputation (masked; noise-filled in the "
    "authors' protocol) for reference; ECE in each title."
)


def knn(ev, run_dir: Path) -> Path | None:
    t = sweep_table(ev, r"^(accuracy)/n=(\d+)$")
    if t.empty:
        return None
    fig = new_figure(5.4, 3.2)
    ax = add_subplots(fig, 1, 1)[0, 0]
    ax.axvspan(1, 20, color="grey", alpha=0.1, label="claim: 1-20 labels")
    draw_lines(ax, t, "x", style(ev), clip=(0, 1))
    ax.set(xscale="log", xlabel="labels per class", ylabel="accuracy", ylim=(0, 1.02))
    legend_outside(fig, [ax])
    fig.suptitle(f"{ev.experiment}: KNN accuracy (mean, 95% CI band over seeds)", fontsize=9)
    return save_figure(fig, ev, run_dir, "fig12_knn")


knn.caption = (
    "Fig. 12: KNN accuracy on the latent means against labelled points per class (log axis), mean over seeds "
    "with its 95% CI as a light band; the grey range is the claim's 1-20 labels."
)
