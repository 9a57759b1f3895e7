"""The local backend (`--executor local`): a phase's trials one after another in this process, with the same trial
functions Ray Tune would run (`harness.execution.trials.entry`), so plan, store, records, retries and the summary
are the run's usual ones. No Ray is imported. A trial that raises `RetryTrial` runs again (its retries are counted
like Tune's, `harness.execution.trials.worker.retry_left`). The first Ctrl-C or SIGTERM interrupts the running
trial (a training keeps its last finished epoch for `--resume`) and ends the phase; nothing interrupted is
recorded as failed."""

from __future__ import annotations

from pathlib import Path

import harness.execution.trials.worker as worker
from harness.execution.terminal import Console
from harness.execution.trials.entry import trial_name


class LocalBackend:
    name = "local"

    def start(self, grid, plugin_folders: list[str]) -> None:
        import torch

        worker.LOCAL = True  # trials report here, not to Tune, and take their device from the grid
        for exp in grid.experiments:
            if exp.resources["gpu"] > 0 and not torch.cuda.is_available():
                raise ValueError(
                    f"Experiment '{exp.name}' asks for gpu: {exp.resources['gpu']} per trial but this "
                    f"machine has no CUDA device. Set resources.gpu: 0 in the grid, or run where a GPU is."
                )

    def slots(self) -> int:
        return 1

    def run_phase(self, fn, configs, run_dir: Path, phase, max_failures=0, stop=None, console=None):
        view = (console or Console()).phase(phase, sum(_units(c) for c in configs))
        with view:
            for config in configs:
                if stop is not None and stop.signal:
                    return
                name = trial_name(config)
                view.start(name)
                report = _run_one(fn, config, stop)
                if report is None:  # interrupted
                    return
                failed = int(report.get("failed", 0))
                view.finish(name, ok=not failed, count=_units(config), failed=failed)

    def close(self) -> None:
        worker.LOCAL = False


def _run_one(fn, config: dict, stop) -> dict | None:
    """One trial, run again while it asks for a retry; its last report, or None when a signal stopped it."""
    while True:
        worker.LAST_REPORT.clear()
        try:
            if stop is not None:
                stop.interrupts_now = True  # the next signal raises KeyboardInterrupt here
            fn({"trial": config})
            return dict(worker.LAST_REPORT)
        except worker.RetryTrial:
            continue
        except KeyboardInterrupt:
            if stop is not None and stop.signal:
                return None
            raise
        finally:
            if stop is not None:
                stop.interrupts_now = False


def _units(config: dict) -> int:
    return len(config["batch"]) if "batch" in config else 1
