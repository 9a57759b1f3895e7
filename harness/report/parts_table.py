"""The table of a claim's parts in reproduction.md (`harness.report.document`): a row per comparison of each part,
its state (`MARKS`, drawn as a badge on the HTML page), the difference with its 95% interval and the region the
claim needs, the p-value (Holm), the test and its size, and for an inconclusive test the seeds that would detect
the paper's gap with 80% power. Every row has the header's seven cells. Public: `parts_table`, `MARKS`.
"""

from __future__ import annotations

import numpy as np

import harness.report.markdown as md
from harness.report.verdicts import Comparison, Judgement, fmt, fmt_p, fmt_signed

MARKS = {  # a part's or comparison's state as the table shows it (the HTML page draws it as a badge)
    "holds": "✓ holds",
    "contradicted": "✗ contradicted",
    "equivalent": "= equivalent",
    "inconclusive": "? inconclusive",
    None: "– not tested",
}


def _comparison_cells(c: Comparison, n_tests: int) -> list[str]:
    e = c.estimate
    low, high = e.ci()
    size = f"{e.n_seeds} seed(s)" + (f" × {e.n_inputs} inputs" if e.n_inputs else "")
    power = "—"
    if c.outcome == "inconclusive":
        need = c.seeds_needed(n_tests)
        power = (
            f"{need:.0f} (paper's gap {fmt(c.gap)})"
            if np.isfinite(need)
            else f"over 1000 (paper's gap {fmt(c.gap)})"
            if need == np.inf
            else "n/a (no published value)"
            if not np.isfinite(c.gap)
            else "n/a (one seed: variance unknown)"
        )
    p = f"{fmt_p(c.p)} ({fmt_p(c.p_holm)})" if np.isfinite(c.p) else "n/a"
    if c.outcome == "equivalent":  # decided by the equivalence test, not by the two-sided one
        p += f"; tied within ±{c.margin:g}: TOST {fmt_p(c.p_equiv)} ({fmt_p(c.p_equiv_holm)})"
    return [
        f"{c.text}: {MARKS[c.outcome].split(' ', 1)[1]}",
        f"{fmt_signed(e.value)} [{fmt(low)}, {fmt(high)}] (needs {c.region.describe()})",
        p,
        f"{e.test}, {size}",
        power,
    ]


def parts_table(j: Judgement) -> list[str]:
    """A row per comparison of each part (a part's later rows leave its first two cells empty)."""
    out = [
        "| | part of the claim | comparison | Δ [95% CI] | p (Holm) | test | seeds for 80% power |",
        md.rule(7),
    ]
    for p in j.parts:
        for i, c in enumerate(p.comparisons or [None]):
            head = [MARKS[p.state], p.text] if i == 0 else ["", ""]
            cells = _comparison_cells(c, len(j.comparisons)) if c else [p.measured, "", "", "", ""]
            out.append(md.row(*head, *cells))
    return out
