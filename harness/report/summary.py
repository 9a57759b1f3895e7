"""The end of a run on the terminal: each experiment's headline number (`Task.headline`: the best mean and how many
methods ran), the wall time per phase and the paths written; a `rich` table on a terminal, aligned text elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from harness.report.numbers import fmt_ci

if TYPE_CHECKING:  # the terminal is the CLI's: the summary only writes lines to it
    from harness.execution.console import Console


def print_summary(board, run_dir: Path, console: Console, wall: float) -> None:
    """Each experiment's headline number (best mean, and how many methods ran), the paths, the time per phase."""
    from tasks import get as get_task

    rows = []
    for exp, group in board.groupby("experiment", sort=False):
        task_key = group.task.iloc[0]
        try:
            task = get_task(task_key)
        except ValueError:
            continue
        metric = next((m for m in task.headline if (group.metric == m).any()), None)
        if metric is None:
            continue
        g = group[(group.metric == metric) & group["mean"].notna()]
        direction = task.direction(metric)
        best = (
            g.loc[g["mean"].idxmax() if direction == "max" else g["mean"].idxmin()]
            if len(g)
            else None
        )
        value = (
            "n/a"
            if best is None
            else _fmt(best["mean"], (best["ci95_high"] - best["ci95_low"]) / 2)
        )
        rows.append(
            (exp, task_key, metric, "" if best is None else str(best.method), value, str(len(g)))
        )
    header = ("experiment", "task", "headline", "best mean", "value ± CI95", "methods")
    if console.live:
        from rich.console import Console as RichConsole
        from rich.table import Table

        table = Table(*header, title="laebench: headline numbers")
        for row in rows:
            table.add_row(*row)
        RichConsole(file=console.stream).print(table)
    else:
        widths = [
            max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
            for i, h in enumerate(header)
        ]
        console.line("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
        for row in rows:
            console.line("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    phases = (
        ", ".join(f"{name} {seconds:.0f}s" for name, seconds in console.phases) or "nothing to run"
    )
    console.line(f"[laebench] wall time {wall:.0f}s ({phases})")
    console.line(
        f"[laebench] wrote {run_dir / 'leaderboard.md'}, leaderboard.csv, raw.csv; trial logs in "
        f"{run_dir / 'logs'}"
    )


def _fmt(mean: float, half: float) -> str:
    return fmt_ci(mean, half if np.isfinite(half) else float("nan"))
