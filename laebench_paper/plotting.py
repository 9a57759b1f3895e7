"""Plotting helpers of the paper's figures: figure and axes set-up, one colour and marker per method for a whole
report (`style`: from a colour-blind-safe palette, fixed by the run's order of method labels, never shared by two
labels of one figure), means over seeds with a light band or thin per-seed lines (`draw_lines`), a trial's artifact
files. Figures are saved at 150 dpi with legends outside the data (`legend_outside`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from harness.report.numbers import ci95_half
from harness.store.pack import artifact
from harness.store.records import artifacts_dir

DPI = 150
PALETTE = sns.color_palette(
    "colorblind"
)  # 10 colours told apart with the common colour-vision deficiencies
MARKERS = (
    "o",
    "s",
    "^",
    "v",
    "P",
    "<",
    ">",
    "p",
    "h",
    "*",
)  # not ◆ (the paper's number) nor X (over budget)
BAND_ALPHA = 0.12  # light enough that every curve stays visible through the others' bands


NOT_SCORES = ("set", "is_ood", "log_px_raw")


def save_figure(fig: Figure, ev, run_dir: Path, name: str) -> Path:
    path = Path(run_dir) / "figures" / f"{ev.experiment}_{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    return path


def new_figure(width: float, height: float) -> Figure:
    with sns.axes_style("whitegrid"), sns.plotting_context("paper"):
        return Figure(figsize=(width, height), layout="constrained")


def add_subplots(fig: Figure, rows: int, cols: int, **kw):
    with sns.axes_style("whitegrid"), sns.plotting_context("paper"):
        return np.atleast_2d(fig.subplots(rows, cols, squeeze=False, **kw))


def _slots(run: list[str], here: set[str], n: int) -> dict[str, int]:
    """A slot in 0..n-1 per label: its place in `run` modulo n, or, for a label of `here` whose slot an earlier
    label of `here` holds, the next free one (labels of one figure never share while it has at most n)."""
    out, taken = {}, set()
    for i, label in enumerate(run):
        slot = i % n
        if label in here:
            while slot in taken and len(taken) < n:
                slot = (slot + 1) % n
            taken.add(slot)
        out[label] = slot
    return out


def style(ev) -> tuple[dict, dict]:
    """(colour, marker) per method label, the same in every figure of a report: by the label's place among all
    the run's labels (`Evidence.run_labels`; this experiment's when not given) in seaborn's colour-blind palette
    and `MARKERS`, moved to the next free one where two labels of this experiment would share it."""
    labels = list(dict.fromkeys([*ev.run_labels, *ev.labels()]))
    here = set(ev.labels())
    colours, markers = _slots(labels, here, len(PALETTE)), _slots(labels, here, len(MARKERS))
    return (
        {label: PALETTE[i] for label, i in colours.items()},
        {label: MARKERS[i] for label, i in markers.items()},
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
        fig.legend(list(handles.values()), list(handles), loc="outside right center", fontsize=8)


def _summary(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Mean and 95% t half-width of `value` over seeds, per group."""
    if df.empty:
        return pd.DataFrame(columns=[*by, "mean", "half", "n"])
    g = df.groupby(by, sort=False).value
    return pd.DataFrame(
        {"mean": g.mean(), "half": g.apply(ci95_half), "n": g.count()}
    ).reset_index()


def t_interval(values) -> tuple[float, float]:
    half = ci95_half(values)
    mean = float(np.mean(values))
    return (mean - half, mean + half) if np.isfinite(half) else (mean, mean)


def draw_lines(
    ax,
    data: pd.DataFrame,
    x: str,
    styles: tuple[dict, dict],
    spread: str = "band",
    clip: tuple[float, float] = (-np.inf, np.inf),
    markevery: int = 1,
) -> None:
    """Per method (`data`: method, seed, `x`, value rows), the mean over seeds against `x` in the method's colour
    and marker (`styles`, from `style`), and the seeds' spread: `band`, the 95% t interval (clipped to the
    quantity's range, only where positive on a log axis) in a light band; `seeds`, a thin line per seed."""
    palette, markers = styles
    methods = list(
        dict.fromkeys(data.method)
    )  # the legend's order: the experiment's, not by first x
    data = data.sort_values(x)
    s = _summary(data, ["method", x]).sort_values(x)
    log = ax.get_yscale() == "log"
    for method in methods:
        g = s[s.method == method]
        colour = palette[method]
        ax.plot(
            g[x],
            g["mean"],
            color=colour,
            lw=1.5,
            marker=markers[method],
            ms=4,
            label=method,
            markevery=markevery,
        )
        if spread == "seeds":
            for _, one in data[data.method == method].groupby("seed", sort=False):
                ax.plot(one[x], one.value, color=colour, lw=0.6, alpha=0.35)
        else:
            lo, hi = (g["mean"] - g["half"]).clip(*clip), (g["mean"] + g["half"]).clip(*clip)
            ax.fill_between(
                g[x], lo.where(lo > 0) if log else lo, hi, color=colour, alpha=BAND_ALPHA, lw=0
            )


def trial_files(ev, run_dir: Path, name: str) -> list[tuple[str, int, Path]]:
    trials = ev.raw.drop_duplicates("trial_id")
    found = [
        (r.method, r.seed, artifact(artifacts_dir(run_dir, r.trial_id), name))
        for r in trials.itertuples()
    ]
    return [f for f in found if f[2] is not None]


def sweep_table(ev, pattern: str) -> pd.DataFrame:
    parsed = ev.raw.metric.str.extract(pattern)
    return ev.raw.assign(kind=parsed[0], x=pd.to_numeric(parsed[1])).dropna(subset=["kind"])


def edge_marks(
    ax, points: pd.DataFrame, styles: tuple[dict, dict], y: float, marker: str | None
) -> None:
    """A mark per (method, pixels) of `points` at height `y` of the axes (0 bottom, 1 top), side by side where
    several methods share a size (log x): `marker` in the method's colour, or (None) the method's own marker,
    hollow. Leave the data a margin (`ax.margins(y=...)`) so that no mark sits on a point."""
    palette, markers = styles
    for _, at in points.groupby("pixels", sort=False):
        for k, r in enumerate(at.itertuples()):
            colour = palette[r.method]
            ax.scatter(
                r.pixels * 1.15 ** (k - (len(at) - 1) / 2),
                y,
                marker=marker or markers[r.method],
                s=40 if marker else 25,
                color=colour if marker else "none",
                edgecolors=colour,
                linewidths=1,
                transform=ax.get_xaxis_transform(),
                clip_on=False,
                zorder=5,
            )


def same_for_every_method(part: pd.DataFrame) -> bool:
    """True when every method has exactly the same curves (a method-free score such as ink)."""
    wide = part.pivot_table(index=["seed", "x"], columns="method", values="value")
    return wide.shape[1] > 1 and bool(np.allclose(wide.to_numpy(), wide.iloc[:, :1].to_numpy()))
