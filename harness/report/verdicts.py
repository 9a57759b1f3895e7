"""The verdict machinery of `laebench_paper.claims`: one experiment's evidence, the parts of a claim, their tests, the
verdict.

`Evidence` holds one experiment's leaderboard rows, its per-seed raw rows, the grid's method entries, the paper's
rows for the task and the folder of its artifacts (per-input OOD scores). A claim's judge returns a
`Judgement`: parts, each decided by one or more `Comparison`s (a paired estimate from `harness.report.paired`, the
region the paper puts it in, the paper's own value of it) or by an observation. `evaluate` computes every
comparison's p-value, Holm-corrects them over the whole claim, and gives each an outcome: holds / contradicted
(significant on the region's side / the other side), else equivalent (a difference with an equivalence margin,
tied within it by two one-sided tests, Holm-corrected over the claim) or inconclusive. A part holds when all
its comparisons hold (or are ties its region allows: non-inferiority), is contradicted when one is, and is
equivalent when every comparison is decided and one is a tie its region does not allow (the paper's gap is
absent at the paper's precision). A claim is reproduced (every part holds), not reproduced (a part is
contradicted or equivalent) or inconclusive, besides not run, "other setting" (another dataset than the
claim's) and "not comparable" (a number the rule uses carries a reference note: the authors computed it
differently).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

import harness.report.paired as paired
from harness.report.evidence import Evidence
from harness.report.paired import CONTRADICTED, EQUIVALENT, HOLDS, INCONCLUSIVE, Estimate, Region

if TYPE_CHECKING:
    from harness.report.claims import Claim


@dataclass
class Comparison:
    """One test: `estimate` must lie in `region`; `paper_value` is the paper's own value of the quantity."""

    text: str  # what is compared, e.g. "lae_online − vae, AUROC sigma2_output"
    estimate: Estimate
    region: Region
    paper_value: float = math.nan
    margin: float = math.nan  # a difference's equivalence margin (NaN: no equivalence test)
    p: float = math.nan  # two-sided level, before correction
    side: int = 0  # +1: towards the region, -1: away
    p_holm: float = math.nan
    p_equiv: float = math.nan  # two one-sided tests inside +-margin, before correction
    p_equiv_holm: float = math.nan
    outcome: str = INCONCLUSIVE

    @property
    def allows_tie(self) -> bool:
        """The region holds every tie (non-inferiority): a tie then supports the claim."""
        m = self.margin
        return bool(np.isfinite(m) and self.region.lo <= -m and self.region.hi >= m)

    @property
    def gap(self) -> float:
        """How far the paper's value sits inside the region (its nearest finite bound): what power is for."""
        bounds = [b for b in (self.region.lo, self.region.hi) if np.isfinite(b)]
        if not np.isfinite(self.paper_value) or not bounds:
            return math.nan
        return min(abs(self.paper_value - b) for b in bounds)

    def seeds_needed(self, n_tests: int) -> float:
        return paired.seeds_for_power(self.estimate, self.gap, n_tests=n_tests)


@dataclass
class Part:
    text: str  # what must hold
    comparisons: list[Comparison] = field(default_factory=list)
    measured: str = ""  # why it could not be tested, or the observation that decides it
    observed: bool | None = None  # a part decided by an observation (no sampling error), not a test

    @property
    def state(self) -> str | None:
        """holds / contradicted / inconclusive; None: could not be tested here."""
        if self.observed is not None:
            return HOLDS if self.observed else CONTRADICTED
        if not self.comparisons:
            return None
        outcomes = [c.outcome for c in self.comparisons]
        if CONTRADICTED in outcomes:
            return CONTRADICTED
        if INCONCLUSIVE in outcomes:
            return INCONCLUSIVE
        ties = [c for c in self.comparisons if c.outcome == EQUIVALENT and not c.allows_tie]
        return EQUIVALENT if ties else HOLDS


@dataclass
class Judgement:
    parts: list[Part]
    rows: list[str] = field(default_factory=list)  # method labels of the table
    columns: list[str] = field(default_factory=list)  # metrics of the table
    used: list[tuple[str, str]] = field(
        default_factory=list
    )  # (label, metric) numbers the rule compares

    @property
    def comparisons(self) -> list[Comparison]:
        return [c for p in self.parts for c in p.comparisons]


@dataclass
class Outcome:
    claim: Claim  # laebench_paper.claims.Claim
    evidence: Evidence | None
    verdict: str
    judgement: Judgement
    reason: str  # one line: the measured why


def decide(judgement: Judgement) -> None:
    """p-values of every comparison, Holm-corrected over the claim, and their outcomes (in place)."""
    comparisons = judgement.comparisons
    for c in comparisons:
        c.p, c.side = paired.two_sided(c.estimate, c.region)
        c.p_equiv = paired.equivalence_p(c.estimate, c.margin)
    for c, adjusted in zip(comparisons, paired.holm([c.p for c in comparisons])):
        c.p_holm = adjusted
        c.outcome = paired.outcome(adjusted, c.side)
    for c, adjusted in zip(comparisons, paired.holm([c.p_equiv for c in comparisons])):
        c.p_equiv_holm = adjusted
        if c.outcome == INCONCLUSIVE and np.isfinite(adjusted) and adjusted < paired.ALPHA:
            c.outcome = EQUIVALENT


def combine(parts: list[Part]) -> str:
    states = [p.state for p in parts]
    if all(s is None for s in states):
        return "not run"
    if CONTRADICTED in states or EQUIVALENT in states:
        return "not reproduced"
    return "reproduced" if all(s == HOLDS for s in states) else "inconclusive"


def evaluate(claim, ev: Evidence | None) -> Outcome:
    """The verdict of `claim` (a laebench_paper.claims.Claim) on one experiment's evidence (None: not run)."""
    if ev is None:
        return Outcome(
            claim,
            None,
            "not run",
            Judgement([]),
            f"no `{claim.task}` experiment with {claim.needs}",
        )
    judgement = claim.judge(ev)
    decide(judgement)
    verdict = combine(judgement.parts)
    reason = summary(judgement)
    if claim.dataset and ev.dataset and ev.dataset != claim.dataset and verdict != "not run":
        return Outcome(
            claim,
            ev,
            "other setting",
            judgement,
            f"the paper's claim is on {claim.dataset}, this experiment trains on {ev.dataset}: no verdict "
            f"on the paper. On our numbers alone the rule says {verdict}: {reason}",
        )
    compared = {label for label, _ in judgement.used} | set(judgement.rows)
    mixed = {
        label: codes for label, codes in ev.code().items() if label in compared and len(codes) > 1
    }
    if mixed and verdict != "not run":
        which = "; ".join(f"{label}: {', '.join(codes)}" for label, codes in mixed.items())
        return Outcome(
            claim,
            ev,
            "not comparable",
            judgement,
            f"numbers from more than one version of a method's code ({which}): rerun the grid so that "
            f"every seed comes from the same code. On our numbers alone the rule says {verdict}: {reason}",
        )
    stale = [label for label in ev.stale() if label in compared]
    if stale:
        reason = f"⚠ stale code ({', '.join(stale)}: models kept by --reuse-stale). {reason}"
    notes = sorted({ev.note(label, metric) for label, metric in judgement.used} - {""})
    if notes and verdict != "not run":
        reason = (
            f"not comparable with the paper: {'; '.join(notes)}. On our numbers alone the rule says "
            f"{verdict}: {reason}"
        )
        verdict = "not comparable"
    return Outcome(claim, ev, verdict, judgement, reason)


def summary(judgement: Judgement) -> str:
    """One line: the count of parts per state, and the comparisons that decided against the claim or stayed open."""
    states = [p.state for p in judgement.parts]
    named = [(states.count(s), s) for s in (HOLDS, CONTRADICTED, EQUIVALENT, INCONCLUSIVE)]
    counts = ", ".join(f"{n} {s}" for n, s in [*named, (states.count(None), "not tested")] if n)
    worst = [
        c
        for c in judgement.comparisons
        if c.outcome == CONTRADICTED or (c.outcome == EQUIVALENT and not c.allows_tie)
    ] or [c for c in judgement.comparisons if c.outcome == INCONCLUSIVE]
    shown = "; ".join(f"{c.text}: {describe(c)}" for c in worst[:3])
    more = f" (+{len(worst) - 3} more)" if len(worst) > 3 else ""
    return f"parts: {counts or 'none'}" + (f". {shown}{more}" if shown else "")


def describe(c: Comparison) -> str:
    """`Δ = +0.12 [0.05, 0.19], p = 0.003 (Holm 0.01)`."""
    low, high = c.estimate.ci()
    p = "p n/a" if not np.isfinite(c.p) else f"p = {fmt_p(c.p)} (Holm {fmt_p(c.p_holm)})"
    if c.outcome == EQUIVALENT:
        p += f"; tied within ±{c.margin:g}: TOST p = {fmt_p(c.p_equiv)} (Holm {fmt_p(c.p_equiv_holm)})"
    return f"{fmt_signed(c.estimate.value)} [{fmt(low)}, {fmt(high)}], {p}"


def fmt(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.3g}"


def fmt_signed(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:+.3g}"


def fmt_p(p: float) -> str:
    if not np.isfinite(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}" if p < 0.1 else f"{p:.2f}"
