"""The estimates a claim of the paper is decided on (`harness.report.paired`): AUROC differences by DeLong on
stored per-input scores (else a paired t over per-seed AUROCs), one method ahead of its rivals, and which rows
depart from the paper's methods."""

from __future__ import annotations

import numpy as np
import pandas as pd

import harness.report.delong as delong
import harness.report.paired as paired
from harness.report.evidence import Evidence
from harness.report.paired import Estimate, Region
from harness.report.verdicts import Comparison, Part


def departure(ev: Evidence, label: str) -> str:
    """Why a method row departs from the paper's method ('' when it does not). Such a row is shown, labelled, and
    left out of the rivals a claim compares the paper's methods with."""
    params = ev.methods.get(label) or {}
    if ev.key(label) == "lae_posthoc" and float(params.get("temperature", 1.0)) != 1.0:
        return (
            f"cold posterior (temperature {params['temperature']:g}): a departure from the paper's post-hoc "
            f"Laplace, shown for comparison at the online LAE's temperature"
        )
    return ""


def paper_methods(ev: Evidence, labels: list[str] | None = None) -> list[str]:
    return [x for x in (ev.labels() if labels is None else labels) if not departure(ev, x)]


def _paper_diff(ev: Evidence, a: str, b: str, metric: str) -> float:
    return ev.paper_value(a, metric) - ev.paper_value(b, metric)


def auroc_difference(ev: Evidence, a: str, b: str, metric: str) -> Estimate:
    """AUROC(a) - AUROC(b) on `metric` ("auroc/<convention><score>"): from the per-input scores of every seed where
    both trials stored them for the same inputs (two-way variance over seeds and the inputs they share), else a
    paired t over per-seed AUROCs."""
    column = metric.split("/", 1)[1]
    seeds = sorted(set(ev.seed_values(a, metric)) & set(ev.seed_values(b, metric)))
    tables = []
    for seed in seeds:
        ta, tb = ev.scores(a, seed), ev.scores(b, seed)
        if (
            ta is None
            or tb is None
            or column not in ta
            or column not in tb
            or not _same_inputs(ta, tb)
        ):
            break
        tables.append((ta, tb))
    if seeds and len(tables) == len(seeds):
        per_seed = [
            (ta[column].to_numpy(), tb[column].to_numpy(), ta["is_ood"].to_numpy())
            for ta, tb in tables
        ]
        return delong.auroc_difference(per_seed, _shared(ta for ta, _ in tables))
    return paired.seed_difference(
        ev.seed_values(a, metric),
        ev.seed_values(b, metric),
        "paired t over seeds of per-seed AUROCs (no per-input scores stored)",
    )


def auroc_level(ev: Evidence, label: str, metric: str) -> Estimate:
    column, values = metric.split("/", 1)[1], ev.seed_values(label, metric)
    tables = []
    for seed in sorted(values):
        table = ev.scores(label, seed)
        if table is None or column not in table:
            break
        tables.append(table)
    if values and len(tables) == len(values):
        per_seed = [(t[column].to_numpy(), t["is_ood"].to_numpy()) for t in tables]
        return delong.auroc_level(per_seed, _shared(tables))
    return paired.seed_level(
        values, "one-sample t over seeds of per-seed AUROCs (no per-input scores stored)"
    )


def _shared(tables) -> bool:
    """Whether every seed scored the same test inputs (the reports' design: then the inputs' error is shared)."""
    tables = list(tables)
    return all(_same_inputs(tables[0], t) for t in tables[1:])


def _same_inputs(ta: pd.DataFrame, tb: pd.DataFrame) -> bool:
    if len(ta) != len(tb) or not np.array_equal(ta["is_ood"].to_numpy(), tb["is_ood"].to_numpy()):
        return False
    return (
        "ink" not in ta
        or "ink" not in tb
        or np.allclose(ta["ink"].to_numpy(), tb["ink"].to_numpy())
    )


def best_part(
    ev: Evidence,
    target: str,
    metric: str,
    direction: str,
    rivals: list[str],
    text: str,
    margin: float = 0.0,
    estimate=None,
) -> tuple[Part, list[tuple[str, str]]]:
    """`target` ahead of every rival on `metric` ("max": higher is better), tested pairwise. margin 0: strictly
    better; margin MARGIN: better or tied within the paper's precision (non-inferiority)."""
    estimate = estimate or (
        lambda a, b: paired.seed_difference(ev.seed_values(a, metric), ev.seed_values(b, metric))
    )
    mine = ev.labels(target)
    rivals = [x for x in rivals if x not in mine and ev.seed_values(x, metric)]
    if not mine or not ev.seed_values(mine[0], metric) or not rivals:
        return Part(text, measured=f"no {'other method' if mine else target} with `{metric}`"), []
    region = Region(lo=-margin) if direction == "max" else Region(hi=margin)
    comparisons = [
        Comparison(
            f"{mine[0]} − {rival}, `{metric}`",
            estimate(mine[0], rival),
            region,
            _paper_diff(ev, mine[0], rival, metric),
            margin=paired.MARGIN,
        )
        for rival in rivals
    ]
    return Part(text, comparisons), [(mine[0], metric), *[(x, metric) for x in rivals]]
