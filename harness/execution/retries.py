"""Tune-style fault tolerance for trials that record their own failures: with the grid's `max_failures: N`, a
trial that raised is handed back to Ray Tune (`FailureConfig(max_failures=N)` restarts it, on another node if
its node died) up to N times before its failure is recorded. Attempts are counted per run in
`<run_dir>/.retries/`, because a restarted trial is a new process."""

from __future__ import annotations

from pathlib import Path

from harness.execution.context import RunContext
from harness.store.files import write_atomic


class RetryTrial(RuntimeError):
    """Raised to Tune so that it restarts the trial."""


def retry_left(ctx: RunContext, tag: str) -> bool:
    """Count one failed attempt of `tag` (a model key or trial id) in this run; True while retries remain."""
    allowed = int(ctx.max_failures or 0)
    if allowed <= 0:
        return False
    run = "".join(c if c.isalnum() else "_" for c in ctx.run_id)
    path = Path(ctx.run_dir) / ".retries" / run / tag.replace("/", "__")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        failures = int(path.read_text())
    except (OSError, ValueError):
        failures = 0
    write_atomic(path, str(failures + 1).encode())
    return failures < allowed
