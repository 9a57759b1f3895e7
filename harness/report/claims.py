"""Papers and their claims, registered like plugins: what `report DIR --paper` judges.

The harness names no paper. A paper package defines its `Claim`s (what the paper says, the experiments that
measure it, the rule as code: a judge returning a `harness.report.verdicts.Judgement`, the figures drawn beside
it) and its published numbers, and registers a `Paper` with `register_paper` when imported. Installed papers are
found through the entry point group `laebench.papers` (this repository's `laebench_paper`, the Laplacian
autoencoder paper, declares itself there in pyproject.toml); `papers()` returns them all. A second paper is a
package of its own doing the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

import pandas as pd

REFERENCE_COLUMNS = ["task", "dataset", "method", "metric", "value", "std", "source", "note"]


@dataclass(frozen=True)
class Claim:
    id: str
    title: str
    source: str  # e.g. "Table 3"
    dataset: str  # the paper's data ("" where none)
    paper: str  # what the paper reports, in words
    task: str
    metrics: str  # regex: an experiment of `task` with a metric matching it is judged
    needs: str  # those metrics, for people
    rule: str  # the verdict rule, in words
    judge: Callable  # Evidence -> Judgement
    figures: tuple[Callable, ...] = ()  # (Evidence, run_dir) -> path of a PNG, or None without data
    notes: Callable = lambda ev: []  # Evidence -> measured explanations shown with the verdict


@dataclass(frozen=True)
class Paper:
    name: str
    title: str
    claims: tuple[Claim, ...]
    reference_csv: (
        Path  # the published numbers, REFERENCE_COLUMNS (a `note` where computed differently)
    )
    departure: Callable = lambda ev, label: (
        ""
    )  # (Evidence, label) -> why a row departs from the paper's method
    extra: dict = field(default_factory=dict)

    def reference(self) -> pd.DataFrame:
        ref = pd.read_csv(self.reference_csv)
        if "note" not in ref:
            ref["note"] = ""
        ref["note"] = ref["note"].fillna("").astype(str)
        return ref.assign(paper=self.name)


_PAPERS: dict[str, Paper] = {}
_loaded = False


def register_paper(paper: Paper) -> Paper:
    _PAPERS[paper.name] = paper
    return paper


def papers() -> list[Paper]:
    """Every registered paper (installed ones are imported through the `laebench.papers` entry points)."""
    global _loaded
    if not _loaded:
        _loaded = True
        for ep in entry_points(group="laebench.papers"):
            ep.load()
    return list(_PAPERS.values())


def reference() -> pd.DataFrame:
    """The published numbers of every registered paper, one table (empty when no paper is installed)."""
    tables = [p.reference() for p in papers()]
    return (
        pd.concat(tables, ignore_index=True)
        if tables
        else pd.DataFrame(columns=[*REFERENCE_COLUMNS, "paper"])
    )


def departure(ev, label: str) -> str:
    """Why a method row departs from a registered paper's method ('' when it does not)."""
    return next((why for p in papers() if (why := p.departure(ev, label))), "")
