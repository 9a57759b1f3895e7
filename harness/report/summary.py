"""The end of a run on the terminal: each experiment's headline number (`Task.headline`: the best mean and how many
methods ran), the wall time per phase and the paths written; a `rich` table on a terminal, aligned text elsewhere.

A headline that is a fit across an experiment's timed points (a `Task.summarize` row, e.g. a log-log slope of
`time_s@side=<s>`) is taken only from methods whose fitted points are compute-dominated: each call at least
`MIN_TIMED_S`, and never faster on a larger side (a cost that falls as the input grows is noise larger than the
compute). Otherwise the timer and the scheduler set the slope: "n/a (sides too small to time)".
Public: `run_leaderboards(run_dir)`, `end_of_run(board, run_dir, wall, phases)`, `headline_rows(board)`;
the terminal (`harness.execution.terminal.Console`) prints what they return.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.report.metric_names import SWEEP
from harness.report.numbers import fmt_ci

HEADER = ("experiment", "task", "headline", "best mean", "value ± CI95", "methods")
MIN_TIMED_S = 0.005  # a call shorter than this measures the timer, not the compute
TIMED = "time_s"  # the measure of a timed sweep (`time_s@side=16`: harness.report.metric_names)
TOO_SMALL = "n/a (sides too small to time)"


def _timed_enough(group: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """`rows` (a headline's rows) less the cross-trial fits over timings too short to mean anything. A fit's
    `n_seeds` is its number of points, which are the method's largest timed sweep values (`Task.summarize`)."""
    parsed = group.metric.str.extract(SWEEP)
    timed = group[parsed.base == TIMED].assign(at=pd.to_numeric(parsed.value, errors="coerce"))
    fits = rows["std"].isna() & rows.ci95_low.isna() & rows.method.isin(timed.method)
    if timed.empty or not fits.any():
        return rows

    def compute_dominated(r) -> bool:
        points = timed[(timed.method == r.method) & timed["mean"].notna()].sort_values("at")
        fitted = points["mean"].tail(int(r.n_seeds))
        return bool((fitted >= MIN_TIMED_S).all() and fitted.is_monotonic_increasing)

    return rows[[not fit or compute_dominated(r) for fit, r in zip(fits, rows.itertuples())]]


def _headline(exp: str, group: pd.DataFrame) -> tuple[str, ...] | None:
    """One experiment's summary row, None when its task is unknown or emitted no headline metric."""
    from tasks import get as get_task

    task_key = group.task.iloc[0]
    try:
        task = get_task(task_key)
    except ValueError:
        return None
    metric = next((m for m in task.headline if (group.metric == m).any()), None)
    if metric is None:
        return None
    rows = group[(group.metric == metric) & group["mean"].notna()]
    kept = _timed_enough(group, rows)
    if len(kept) == 0:
        value = TOO_SMALL if len(rows) else "n/a"
        return exp, task_key, metric, "", value, str(len(rows))
    pick = kept["mean"].idxmax() if task.direction(metric) == "max" else kept["mean"].idxmin()
    best = kept.loc[pick]
    value = _fmt(best["mean"], (best["ci95_high"] - best["ci95_low"]) / 2)
    return exp, task_key, metric, str(best.method), value, str(len(rows))


def headline_rows(board: pd.DataFrame) -> list[tuple[str, ...]]:
    """Each experiment's (experiment, task, headline metric, best method, value ± CI95, methods that ran)."""
    rows = [_headline(exp, group) for exp, group in board.groupby("experiment", sort=False)]
    return [r for r in rows if r is not None]


def run_leaderboards(run_dir: Path) -> tuple[pd.DataFrame | None, str]:
    """A finished (or interrupted) run's leaderboards, written under the folder's lock (a concurrent run may write
    them too), and "" — or None and the one-line reason they could not be written (the records stay; `report`
    rebuilds them once mended). (None, "") when the run has no record yet."""
    from harness.report.freshness import leaderboards_current
    from harness.store.files import DamagedFileError
    from harness.store.locks import exclusive, lock_settings

    if not any((run_dir / "trials").glob("*.json")):
        return None, ""
    if leaderboards_current(run_dir):  # made from these very records: read back, nothing rebuilt
        return pd.read_csv(run_dir / "leaderboard.csv"), ""
    from harness.report.leaderboard import write_leaderboards

    try:
        with exclusive(run_dir / "leaderboard.lock", "leaderboards", lock_settings()):
            return write_leaderboards(run_dir, force=False), ""  # kept when made from these records
    except (DamagedFileError, FileNotFoundError) as exc:
        return None, str(exc)


def end_of_run(
    board: pd.DataFrame, run_dir: Path, wall: float, phases: list[tuple[str, float]]
) -> tuple[tuple[str, ...], list[tuple[str, ...]], list[str]]:
    """What the terminal shows at the end of a run: the headline table (`HEADER`, a row per experiment: its best
    mean and how many methods ran) and the closing lines (the wall time per phase, the paths written)."""
    spent = ", ".join(f"{name} {seconds:.0f}s" for name, seconds in phases) or "nothing to run"
    closing = [
        f"[laebench] wall time {wall:.0f}s ({spent})",
        f"[laebench] wrote {run_dir / 'leaderboard.md'}, leaderboard.csv, raw.csv; trial logs in "
        f"{run_dir / 'logs'}",
    ]
    return HEADER, headline_rows(board), closing


def _fmt(mean: float, half: float) -> str:
    return fmt_ci(mean, half if np.isfinite(half) else float("nan"))
