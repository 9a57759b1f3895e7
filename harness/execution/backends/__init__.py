"""Where a run's trials execute, behind one small interface (`Backend`): start (or join) what runs them, run one
phase's trials (a search's, a training layer's, the evaluations'), stop what was started.

- `ray_tune.RayTuneBackend` (the default, `--executor ray`): Ray Tune on a private local Ray instance or a joined
  cluster (`ray_cluster`), trials in parallel, resources per trial; the only backend that runs searches.
- `local.LocalBackend` (`--executor local`): the same trial functions one after another in this process: no Ray
  needed (a GPU machine without it), a breakpoint works, tests whose subject is not Ray run faster.

Both run the same plan, store, records, retries (`max_failures`), interrupts and summary: a grid run by either
gives the same leaderboard. May import: harness.execution.context / interrupts / terminal / trials, harness.grid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

EXECUTORS = ("ray", "local")


class Backend(Protocol):
    name: str

    def start(self, grid, plugin_folders: list[str]) -> None:
        """Make trials runnable (start or join Ray); ValueError when the grid asks for what is not there."""

    def slots(self) -> int:
        """How many 1-CPU trials can run at once."""

    def run_phase(
        self, fn, configs: list[dict], run_dir: Path, phase: str, max_failures: int, stop, console
    ):
        """Run `fn({"trial": config})` for every config (a trial each); returns when all ended or a stop."""

    def close(self) -> None:
        """Stop what `start` started."""


def make_backend(executor: str, address: str | None = None, verbose: bool = False) -> Backend:
    if executor == "local":
        if address:
            raise ValueError(
                "--address joins a Ray cluster; the local executor runs without Ray: drop one"
            )
        from harness.execution.backends.local import LocalBackend

        return LocalBackend()
    if executor != "ray":
        raise ValueError(f"Unknown executor '{executor}'. Available: {', '.join(EXECUTORS)}.")
    from harness.execution.backends.ray_tune import RayTuneBackend

    return RayTuneBackend(address, verbose)
