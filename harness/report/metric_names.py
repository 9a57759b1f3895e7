"""What a metric's name packs, as columns: `metric_parts("auroc/authors/log_px")` -> measure `auroc`, score
`log_px`, convention `authors`; `accuracy/n=10` -> sweep `n`, sweep_value 10.0; `time_s@side=16` -> measure
`time_s`, sweep `side`, sweep_value 16.0. A task names its metrics `<measure>[/authors][/<score>][/<param>=<v>]`
or `<measure>@<param>=<v>`; `authors` marks a number computed by the authors' convention, `ours` is the rest."""

from __future__ import annotations

import math
import re

SWEEP = re.compile(
    r"^(?P<base>.+?)[@/](?P<param>[A-Za-z_]\w*)=(?P<value>[^/@=]+)$"
)  # time_s@side=8, accuracy/n=1
AUTHORS = "authors"
# measures that live in [0, 1] (rates, areas, calibration errors): their intervals are kept inside it
UNIT_RANGE = re.compile(r"^(?:\w+_)?(?:auroc|aupr|fpr95|accuracy|ece|mce|rmsce)(?:_inkmatched)?$")
PART_COLUMNS = ["measure", "score", "convention", "sweep", "sweep_value"]


def metric_parts(metric: str) -> dict:
    """The columns of `PART_COLUMNS` for one metric name (score and sweep "" and sweep_value NaN when absent)."""
    sweep, value, base = "", math.nan, metric
    found = SWEEP.match(metric)
    if found:
        base, sweep = found["base"], found["param"]
        try:
            value = float(found["value"])
        except ValueError:
            value = math.nan
    parts = base.split("/")
    convention = AUTHORS if AUTHORS in parts else "ours"
    parts = [p for p in parts if p != AUTHORS]
    return {
        "measure": parts[0] if parts else "",
        "score": "/".join(parts[1:]),
        "convention": convention,
        "sweep": sweep,
        "sweep_value": value,
    }


def in_unit_range(metric: str) -> bool:
    """True for a metric whose values are proportions in [0, 1] (AUROC, AUPR, FPR95, accuracy, ECE...)."""
    return bool(UNIT_RANGE.match(metric_parts(metric)["measure"]))
