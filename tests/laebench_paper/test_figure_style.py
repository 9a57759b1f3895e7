"""Figures a reader can tell apart in print: within a figure every method label has its own colour (seaborn's
colour-blind palette) and marker, also in a run with more labels than colours (the committed paper-cpu report:
21 labels, ae and lae_posthoc_marglik were one blue); a method-free ROC is one black curve; legends sit off the
data (the CelebA bar chart's legend covered its last bars)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

import laebench_paper.bars as bars
import laebench_paper.figures as figures
from harness.report.evidence import Evidence
from laebench_paper.plotting import MARKERS, PALETTE, same_for_every_method, style

RUN = (  # reports/paper-cpu's labels in the run's order
    "ae lae_online_approx lae_online_exact lae_posthoc_approx lae_posthoc_exact approx backpack_diag_exact "
    "backpack_kfac exact fwd_bwd mix ensemble lae_online lae_posthoc mc_ae vae lae_online_authors "
    "ae_likelihood lae_online_authors_lr lae_posthoc_cold lae_posthoc_marglik"
).split()
OOD = "ae ae_likelihood lae_online lae_online_authors_lr lae_posthoc lae_posthoc_cold"
OOD = (OOD + " lae_posthoc_marglik mc_ae vae").split()


def _evidence(raw: pd.DataFrame, run_labels: tuple = ()) -> Evidence:
    board = raw.drop_duplicates("method")[["method"]]
    return Evidence("e", "d", board, raw, run_labels=run_labels)


def _per_seed(metrics: list[str], labels: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        [
            {"method": label, "seed": seed, "metric": m, "value": 0.5 + 0.4 * rng.random()}
            for label in labels
            for m in metrics
            for seed in range(3)
        ]
    )


def test_every_label_of_a_figure_has_its_own_colour_and_marker_in_a_run_of_21_labels():
    assert len(RUN) > len(PALETTE) and len(RUN) > len(MARKERS)
    colours, markers = style(_evidence(_per_seed(["m"], OOD), tuple(RUN)))
    assert len({colours[label] for label in OOD}) == len(OOD) == len({markers[x] for x in OOD})
    assert colours["ae"] != colours["lae_posthoc_marglik"]
    assert all(c in PALETTE for c in colours.values())
    # a label keeps its colour and marker in another experiment of the run where nothing collides
    other = style(_evidence(_per_seed(["m"], ["ae", "lae_online", "vae"]), tuple(RUN)))
    assert all(other[0][x] == colours[x] and other[1][x] == markers[x] for x in ("ae", "vae"))


def test_a_method_free_score_is_recognised_as_one_curve():
    grid = np.linspace(0, 1, 5)
    same = pd.DataFrame(
        [
            {"method": m, "seed": s, "x": x, "value": x**2}
            for m in "ab"
            for s in (0, 1)
            for x in grid
        ]
    )
    assert same_for_every_method(same)
    assert not same_for_every_method(same.assign(value=same.value + (same.method == "b") * 0.1))
    assert not same_for_every_method(same[same.method == "a"])  # one method: nothing to fold


def _drawn(monkeypatch, module, draw, ev, tmp_path):
    """The figure `draw` builds, as it is about to be saved."""
    seen = {}
    monkeypatch.setattr(module, "save_figure", lambda fig, *a: seen.setdefault("fig", fig))
    draw(ev, tmp_path)
    fig = seen["fig"]
    FigureCanvasAgg(fig).draw()  # lays the figure out as saving does
    return fig


def _legend_overlaps_an_axes(fig) -> bool:
    (legend,) = fig.legends
    box = legend.get_window_extent()
    return any(box.overlaps(ax.get_window_extent()) for ax in fig.axes if ax.get_visible())


@pytest.mark.parametrize("which", ["attributes", "knn"])
def test_legends_are_outside_every_axes(which, monkeypatch, tmp_path):
    labels = ["ae", "lae_online", "mc_ae", "vae"]
    if which == "attributes":
        metrics = [f"accuracy/{a}" for a in ("Bald", "Smiling", "Young", "Male", "Bangs")]
        module, draw = bars, bars.attributes
    else:
        metrics = [f"accuracy/n={n}" for n in (1, 2, 5, 10, 20)]
        module, draw = figures, figures.knn
    fig = _drawn(monkeypatch, module, draw, _evidence(_per_seed(metrics, labels)), tmp_path)
    assert not any(ax.get_legend() for ax in fig.axes)
    assert not _legend_overlaps_an_axes(fig)
    shown = [t.get_text() for t in fig.legends[0].get_texts()]
    assert set(labels) <= set(shown)
