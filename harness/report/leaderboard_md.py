"""`leaderboard.md`: a section per experiment whose first table holds the task's headline metrics (the table of
`Task.headline`'s first metric present), then every other table in the order the trials emit them (the task's
own metrics, then the methods' diagnostics such as `posterior/*`), failed trials listed at the end. A table
holds a family of metric names (`auroc/*`, `classifier/*`, the plain names) or a sweep; the tables themselves
are `harness.report.leaderboard_tables`. `GLOSSARY_LINK` points a reader at docs/metrics.md (every name).
Public: `to_markdown(board, raw)`, `GLOSSARY_LINK`.
"""

from __future__ import annotations

import json
from graphlib import CycleError, TopologicalSorter

import pandas as pd

from harness.report.leaderboard_tables import Notes, long_table, wide_table
from harness.report.metric_names import SWEEP, metric_parts

GLOSSARY = "docs/metrics.md"  # the metric glossary, in the repository
# The same link from every results folder one level under the repository (reports/<name>/, results/<grid>/), so
# that a report rebuilt from a pack elsewhere is the same text.
GLOSSARY_LINK = f"[{GLOSSARY}](../../{GLOSSARY}) in the laebench repository"


INTRO = (
    "Mean ± half the width of its 95% interval over seeds (Student t; on the logit scale for proportions "
    "such as AUROC and accuracy, whose bounds are in leaderboard.csv), rounded to 2 significant digits of "
    "the half-width (3 significant digits without one); [n=k] when fewer seeds than the grid's count; ↑ / ↓: "
    "higher / lower is better; **bold**: the best mean, only where a paired t over seeds (Holm, α = 0.05) "
    "puts every other method significantly behind it; (paper: published value, † computed differently by "
    "the authors); n/a: not measured. Each experiment shows the table of its task's headline metrics "
    "first, then its other metrics, then the methods' diagnostics (`posterior/*`); a row or a column that "
    f"is the same for every method is shown once. What every metric name means: {GLOSSARY_LINK}."
)


def _unit(metric: str) -> tuple[str, str]:
    """The table a metric goes to: ("sweep", its parameter) or ("family", its name's first part; "" for a
    plain name such as `mse`). The convention marker `authors/` does not split a family."""
    found = SWEEP.match(metric)
    if found:
        return "sweep", found["param"]
    parts = metric_parts(metric)
    return "family", parts["measure"] if parts["score"] else ""


def _headline_unit(group: pd.DataFrame) -> tuple[str, str] | None:
    from tasks import get as get_task

    try:
        headline = get_task(group.task.iloc[0]).headline
    except ValueError:  # a task that is no longer registered: no headline
        return None
    metric = next((m for m in headline if (group.metric == m).any()), None)
    return None if metric is None else _unit(metric)


def _units(group: pd.DataFrame, trials: pd.DataFrame) -> list[tuple[str, str]]:
    """The experiment's tables in order: the headline's first, then in the order each trial emits its metrics
    (merged over trials; first appearance on the board where the trials disagree or never meet)."""
    graph = TopologicalSorter()
    for _, trial in trials.groupby("trial_id", sort=False):
        emitted = list(dict.fromkeys(map(_unit, trial.metric)))
        for earlier, later in zip(emitted, emitted[1:]):
            graph.add(later, earlier)
    present = list(dict.fromkeys(map(_unit, group.metric)))
    try:
        order = [u for u in graph.static_order() if u in present]
    except CycleError:
        order = []
    head = _headline_unit(group)
    return sorted(dict.fromkeys([*order, *present]), key=lambda u: u != head)


def _failed_points(raw: pd.DataFrame, experiment: str) -> set:
    """(parameter, value, method) of failed trials that sit at one point of a sweep."""
    out = set()
    for r in raw[(raw.status != "ok") & (raw.experiment == experiment)].itertuples():
        for k, v in json.loads(r.point or "{}").items():
            out.add((k, str(v), r.method))
    return out


def _experiment(exp: str, group: pd.DataFrame, raw: pd.DataFrame) -> list[str]:
    first = group.iloc[0]
    what = ", ".join(  # what the experiment has: a Hessian-scaling run has no data set or arch
        f"{name} `{value}`"
        for name, value in (("task", first.task), ("data", first.dataset), ("arch", first.arch))
        if isinstance(value, str) and value
    )
    out = [f"## {exp}", "", what, ""]
    seeds = raw[(raw.experiment == exp) & (raw.status == "ok") & raw.metric.fillna("").ne("")]
    n_max, notes = seeds.seed.nunique() or group.n_seeds.max(), Notes()
    units, failed = list(map(_unit, group.metric)), _failed_points(raw, exp)
    for unit in _units(group, seeds):
        part = group[[u == unit for u in units]]
        if unit[0] == "sweep":
            part = part.join(part.metric.str.extract(SWEEP))
            out += long_table(part, unit[1], failed, n_max, notes, seeds) + [""]
        else:
            out += wide_table(part, n_max, notes, seeds) + [""]
    return out + (notes.lines() + [""] if notes else [])


def to_markdown(board: pd.DataFrame, raw: pd.DataFrame) -> str:
    """leaderboard.md of `board` (`harness.report.leaderboard.aggregate`) and its `raw` rows."""
    out = ["# Leaderboard", "", INTRO, ""]
    for exp, group in board.groupby("experiment", sort=False):
        out += _experiment(exp, group, raw)
    failed = raw[raw.status != "ok"].drop_duplicates("trial_id")
    if len(failed):
        out += ["## Failed trials", ""]
        out += [f"- `{r.trial_id}`: {r.error}" for r in failed.itertuples()]
        out.append("")
    return "\n".join(out)
