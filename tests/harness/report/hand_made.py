"""Evidence from hand-made numbers, for the tests of the verdict rules (here and in tests/laebench_paper/):
`evidence(task, {(label, metric): [per-seed values]})`, the paper's own numbers as seeds (`paper_numbers`), a
claim by its id (`claim_by_id`) and the states of an outcome's parts (`states`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.report.evidence import Evidence
from harness.report.leaderboard import RAW_COLUMNS, aggregate, paper_reference
from laebench_paper.claims import CLAIMS


def evidence(
    task: str,
    values: dict,
    methods: dict | None = None,
    reference: pd.DataFrame | None = None,
    dataset: str = "mnist",
) -> Evidence:
    """Evidence from per-seed values {(label, metric): [seed0, seed1, ...]}."""
    raw = pd.DataFrame(
        [
            {
                "experiment": "e",
                "task": task,
                "dataset": dataset,
                "arch": "mlp",
                "method": label,
                "seed": seed,
                "point": "{}",
                "metric": metric,
                "value": v,
                "status": "ok",
                "trial_id": f"e/{label}/seed{seed}",
            }
            for (label, metric), vs in values.items()
            for seed, v in enumerate(vs)
        ],
        columns=RAW_COLUMNS,
    )
    ref = paper_reference() if reference is None else reference
    return Evidence("e", dataset, aggregate(raw), raw, methods or {}, ref[ref.task == task])


def noisy(value: float, sd: float, seeds: int = 6, rng=np.random.default_rng(0)) -> list[float]:
    return (value + sd * rng.standard_normal(seeds)).tolist()


def paper_numbers(task: str, metric_filter=lambda m: True, sd: float = 0.001) -> dict:
    """The paper's numbers as 6 seeds with a small seed-to-seed spread."""
    ref = paper_reference()
    rows = ref[(ref.task == task) & ref.metric.map(metric_filter)]
    return {
        (r.method, r.metric): noisy(r.value, sd * max(1.0, abs(r.value)))
        for r in rows.itertuples()
        if r.method != "*"
    }


def claim_by_id(claim_id: str):
    return next(c for c in CLAIMS if c.id == claim_id)


def states(outcome) -> list:
    return [p.state for p in outcome.judgement.parts]
