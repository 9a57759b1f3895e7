"""verdicts.csv: every claim's verdict and every test behind it, as a tidy table that pandas reads.

`harness report DIR --paper` writes it beside reproduction.md: one row per comparison of each part of each claim
judged on each experiment (a part decided by an observation, or not tested, gets one row with no comparison; a
claim not run gets one row with no part). The claim's verdict and one-line reason repeat on each of its rows, so
`df.drop_duplicates(["claim_id", "experiment"])` is the summary table. This module owns the format: `COLUMNS`,
`verdict_rows(outcomes)`, `write_verdicts(run_dir, outcomes)`, `read_verdicts(run_dir)`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.report.verdicts import Comparison, Outcome

FILENAME = "verdicts.csv"
COLUMNS = (
    "claim_id",  # laebench_paper.claims: table2, table3, ...
    "source",  # where the paper states it: "Table 3, Figs. 9-10"
    "claim",  # its title
    "experiment",  # the grid experiment judged ("" when not run)
    "verdict",  # reproduced / not reproduced / inconclusive / not comparable / other setting / not run
    "reason",  # the verdict's one line: counts of parts per state and the comparisons that decided it
    "part",  # what must hold
    "part_state",  # holds / contradicted / equivalent / inconclusive ("" when not tested)
    "comparison",  # what is compared, e.g. "lae_online − vae, `auroc/sigma2_output`"
    "outcome",  # the comparison's: holds / contradicted / equivalent / inconclusive
    "estimate",  # the difference (or value) estimated, paired on shared inputs and seeds
    "ci95_low",
    "ci95_high",
    "region_low",  # where the claim needs the estimate: region_low < estimate < region_high
    "region_high",
    "p",  # two-sided, before correction
    "p_holm",  # Holm-corrected over the claim's comparisons
    "test",  # the test's name
    "n_seeds",
    "n_inputs",  # test inputs per seed (0: per-seed numbers only)
    "paper_value",  # the paper's own value of the quantity
    "seeds_for_power",  # seeds that would detect the paper's gap with 80% power (inconclusive tests only)
)


def _comparison(c: Comparison | None, n_tests: int) -> dict:
    if c is None:
        return {}
    low, high = c.estimate.ci()
    return {
        "comparison": c.text,
        "outcome": c.outcome,
        "estimate": c.estimate.value,
        "ci95_low": low,
        "ci95_high": high,
        "region_low": c.region.lo,
        "region_high": c.region.hi,
        "p": c.p,
        "p_holm": c.p_holm,
        "test": c.estimate.test,
        "n_seeds": c.estimate.n_seeds,
        "n_inputs": c.estimate.n_inputs,
        "paper_value": c.paper_value,
        "seeds_for_power": c.seeds_needed(n_tests) if c.outcome == "inconclusive" else np.nan,
    }


def verdict_rows(outcomes: list[Outcome]) -> pd.DataFrame:
    """The tidy table of `outcomes` (harness.report.verdicts.evaluate's), in `COLUMNS` order."""
    rows = []
    for o in outcomes:
        claim = {
            "claim_id": o.claim.id,
            "source": o.claim.source,
            "claim": o.claim.title,
            "experiment": o.evidence.experiment if o.evidence is not None else "",
            "verdict": o.verdict,
            "reason": o.reason,
        }
        n_tests = len(o.judgement.comparisons)
        for part in o.judgement.parts or [None]:
            head = {} if part is None else {"part": part.text, "part_state": part.state or ""}
            for c in (part.comparisons if part is not None else []) or [None]:
                rows.append({**claim, **head, **_comparison(c, n_tests)})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def write_verdicts(run_dir: str | Path, outcomes: list[Outcome]) -> Path:
    path = Path(run_dir) / FILENAME
    verdict_rows(outcomes).to_csv(path, index=False)
    return path


def read_verdicts(run_dir: str | Path) -> pd.DataFrame:
    """DIR/verdicts.csv; a missing file names the command that writes it."""
    path = Path(run_dir) / FILENAME
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: run `python -m harness report {run_dir} --paper` to write it"
        )
    return pd.read_csv(path, keep_default_na=False, na_values=[""]).fillna(
        {c: "" for c in ("experiment", "part", "part_state", "comparison", "outcome", "test")}
    )
