"""The verdict machinery of `harness.claims`: one experiment's evidence, the parts of a claim, their verdict.

`Evidence` holds one experiment's leaderboard rows, its per-seed raw rows, the grid's method entries and the
paper's rows for the task (with `note` where the authors computed a number differently). A claim's judge
returns a `Judgement` (parts that hold, fail or cannot be tested; the table to show; the numbers it
compares); `combine` gives the verdict: reproduced (every part holds), partly reproduced (some hold, the
others fail or cannot be tested), not reproduced (none that could be tested holds), not run. `evaluate`
turns it into "other setting" when the experiment trains on another dataset than the claim's, and "not
comparable" when a number the rule compares carries a reference note.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

CONVENTIONS = {"": "our scores", "authors/": "the authors' scores"}  # metric-name infix -> convention
TIE = 0.01  # the paper prints two decimals: a method within this of the best counts as best


@dataclass
class Part:
    text: str  # what must hold
    holds: bool | None  # None: could not be tested here
    measured: str  # what we measured


@dataclass
class Evidence:
    """One experiment's numbers: leaderboard rows, ok raw rows (per seed), methods as the grid wrote them."""

    experiment: str
    dataset: str
    board: pd.DataFrame
    raw: pd.DataFrame
    methods: dict[str, dict] = field(default_factory=dict)  # label -> {"method": key, params...}
    reference: pd.DataFrame = None  # the paper's rows for this task (harness/paper/reference.csv)

    def key(self, label: str) -> str:
        return (self.methods.get(label) or {}).get("method", label)

    def labels(self, key: str | None = None) -> list[str]:
        """Method labels with results, those of method `key` only when given (the label == key first)."""
        labels = list(dict.fromkeys(self.board.method))
        return labels if key is None else sorted((x for x in labels if self.key(x) == key), key=lambda x: x != key)

    def mean(self, label: str, metric: str) -> float:
        row = self.board[(self.board.method == label) & (self.board.metric == metric)]
        return float(row["mean"].iloc[0]) if len(row) else math.nan

    def has(self, metric: str) -> bool:
        return bool((self.board.metric == metric).any())

    def per_seed(self, metric: str) -> pd.DataFrame:
        """seed x label table of `metric`."""
        rows = self.raw[self.raw.metric == metric]
        return rows.pivot_table(index="seed", columns="method", values="value", aggfunc="mean")

    def paper(self, label: str, metric: str) -> dict | None:
        """The paper's row for a method label (else its key, else "*") and metric (else without `authors/`)."""
        ref = self.reference
        if ref is None or ref.empty:
            return None
        for method in (label, self.key(label), "*"):
            for name in dict.fromkeys((metric, metric.replace("authors/", ""))):
                rows = ref[(ref.method == method) & (ref.metric == name)]
                if len(rows):
                    rows = rows.sort_values("dataset", key=lambda d: d != self.dataset)
                    return rows.iloc[0].to_dict()
        return None

    def note(self, label: str, metric: str) -> str:
        row = self.paper(label, metric)
        return str(row.get("note") or "") if row else ""


@dataclass
class Judgement:
    parts: list[Part]
    rows: list[str] = field(default_factory=list)  # method labels of the table
    columns: list[str] = field(default_factory=list)  # metrics of the table
    used: list[tuple[str, str]] = field(default_factory=list)  # (label, metric) numbers the rule compares


@dataclass
class Outcome:
    claim: "Claim"  # harness.claims.Claim
    evidence: Evidence | None
    verdict: str
    judgement: Judgement
    reason: str  # one line: the measured why


def combine(parts: list[Part]) -> str:
    tested = [p.holds for p in parts if p.holds is not None]
    if not tested:
        return "not run"
    if all(tested):
        return "reproduced" if len(tested) == len(parts) else "partly reproduced"
    return "partly reproduced" if any(tested) else "not reproduced"


def evaluate(claim, ev: Evidence | None) -> Outcome:
    """The verdict of `claim` (a harness.claims.Claim) on one experiment's evidence (None: not run)."""
    if ev is None:
        return Outcome(claim, None, "not run", Judgement([]), f"no `{claim.task}` experiment with {claim.needs}")
    judgement = claim.judge(ev)
    verdict = combine(judgement.parts)
    if claim.dataset and ev.dataset and ev.dataset != claim.dataset and verdict != "not run":
        return Outcome(claim, ev, "other setting", judgement,
                       f"the paper's claim is on {claim.dataset}, this experiment trains on {ev.dataset}: no verdict "
                       f"on the paper. On our numbers alone the rule says {verdict}: "
                       + "; ".join(p.measured for p in judgement.parts if p.measured))
    notes = sorted({ev.note(label, metric) for label, metric in judgement.used} - {""})
    failed = [p for p in judgement.parts if p.holds is False]
    reason = "; ".join(p.measured for p in (failed or judgement.parts) if p.measured)
    if notes and verdict != "not run":
        reason = (f"not comparable with the paper: {'; '.join(notes)}. On our numbers alone the rule says "
                  f"{verdict}: {reason}")
        verdict = "not comparable"
    return Outcome(claim, ev, verdict, judgement, reason)


def fmt(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.3g}"


def is_best(value: float, others: dict[str, float], direction: str, tie: float = TIE) -> bool:
    """`value` is the best of itself and `others` ("max" or "min"), up to `tie`."""
    others = [v for v in others.values() if np.isfinite(v)]
    if not np.isfinite(value) or not others:
        return False
    return value >= max(others) - tie if direction == "max" else value <= min(others) + tie


def best_part(ev: Evidence, target: str, metric: str, direction: str, among: list[str] | None = None,
              text: str = "") -> tuple[Part, list[tuple[str, str]]]:
    """Does method `target` have the best mean `metric` among `among` (default: every method)?"""
    text = text or f"{target} has the {'highest' if direction == 'max' else 'lowest'} `{metric}` (within {TIE})"
    mine = [x for x in ev.labels(target) if np.isfinite(ev.mean(x, metric))]
    others = {x: ev.mean(x, metric) for x in (among or ev.labels()) if x not in ev.labels(target)}
    others = {x: v for x, v in others.items() if np.isfinite(v)}
    if not mine or not others:
        return Part(text, None, f"no {'other method' if mine else target} with `{metric}`"), []
    value, pick = ev.mean(mine[0], metric), (max if direction == "max" else min)
    rival = pick(others, key=others.get)
    return (Part(text, is_best(value, others, direction), f"{mine[0]} {fmt(value)} vs best other {rival} "
                 f"{fmt(others[rival])} (`{metric}`)"), [(mine[0], metric), *[(x, metric) for x in others]])


def conventions(ev: Evidence, template: str) -> list[str]:
    """Metric-name infixes of the scoring conventions present, e.g. template "auroc/{}sigma2_output"."""
    return [c for c in CONVENTIONS if ev.has(template.format(c))]
