"""Plotting helpers of the paper's figures: figure and axes set-up, one colour and marker per method for a whole
report (`style`: fixed by the run's order of method labels), means with CI bands over seeds, a trial's artifact
files. Figures are saved at 150 dpi with legends outside the data (`legend_outside`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from harness.report.numbers import ci95_half
from harness.store.pack import artifact

DPI = 150
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")


NOT_SCORES = ("set", "is_ood", "log_px_raw")


def _save(fig: Figure, ev, run_dir: Path, name: str) -> Path:
    path = Path(run_dir) / "figures" / f"{ev.experiment}_{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    return path


def _figure(width: float, height: float) -> Figure:
    with sns.axes_style("whitegrid"), sns.plotting_context("paper"):
        return Figure(figsize=(width, height), layout="constrained")


def _subplots(fig: Figure, rows: int, cols: int, **kw):
    with sns.axes_style("whitegrid"), sns.plotting_context("paper"):
        return np.atleast_2d(fig.subplots(rows, cols, squeeze=False, **kw))


def style(ev) -> tuple[dict, dict]:
    """(colour, marker) per method label, the same in every figure of a report: by the label's place among all
    the run's labels (`Evidence.run_labels`; this experiment's when not given), tab10 then tab20's light tones."""
    labels = list(dict.fromkeys([*ev.run_labels, *ev.labels()]))
    colours = sns.color_palette("tab10") + sns.color_palette("tab20")[1::2]
    return (
        {label: colours[i % len(colours)] for i, label in enumerate(labels)},
        {label: MARKERS[i % len(MARKERS)] for i, label in enumerate(labels)},
    )


def legend_outside(fig: Figure, axes) -> None:
    """One legend for the figure, right of the axes (never over data), gathered from every axes' artists and
    legends (seaborn's hue legends have unlabelled artists)."""
    handles = {}
    for ax in np.ravel(axes):
        for h, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, h)
        legend = ax.get_legend()
        if legend:
            for h, text in zip(legend.legend_handles, legend.get_texts()):
                handles.setdefault(text.get_text(), h)
            legend.remove()
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside right upper", fontsize=8)


def _summary(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Mean and 95% t half-width of `value` over seeds, per group."""
    if df.empty:
        return pd.DataFrame(columns=[*by, "mean", "half", "n"])
    g = df.groupby(by, sort=False).value
    return pd.DataFrame(
        {"mean": g.mean(), "half": g.apply(ci95_half), "n": g.count()}
    ).reset_index()


def _t_interval(values) -> tuple[float, float]:
    half = ci95_half(values)
    mean = float(np.mean(values))
    return (mean - half, mean + half) if np.isfinite(half) else (mean, mean)


def _lines(
    ax,
    s: pd.DataFrame,
    x: str,
    palette: dict,
    log: bool = False,
    markers: dict | None = None,
    bands: bool = True,
    clip: tuple[float, float] = (-np.inf, np.inf),
) -> None:
    """Mean per method against `x` (a method's marker from `markers`; lines only without), with its 95% CI band
    over seeds (clipped to the quantity's range)."""
    kw = dict(style="method", markers=markers, dashes=False) if markers else {}
    sns.lineplot(data=s, x=x, y="mean", hue="method", palette=palette, errorbar=None, ax=ax, **kw)
    for method, g in s.groupby("method", sort=False) if bands else ():
        lo, hi = (g["mean"] - g["half"]).clip(*clip), (g["mean"] + g["half"]).clip(*clip)
        ax.fill_between(
            g[x], lo.where(lo > 0) if log else lo, hi, color=palette[method], alpha=0.2, lw=0
        )


def _trial_files(ev, run_dir: Path, name: str) -> list[tuple[str, int, Path]]:
    trials = ev.raw.drop_duplicates("trial_id")
    found = [
        (r.method, r.seed, artifact(Path(run_dir) / "artifacts" / r.trial_id, name))
        for r in trials.itertuples()
    ]
    return [f for f in found if f[2] is not None]


def _sweep(ev, pattern: str) -> pd.DataFrame:
    parsed = ev.raw.metric.str.extract(pattern)
    return ev.raw.assign(kind=parsed[0], x=pd.to_numeric(parsed[1])).dropna(subset=["kind"])
