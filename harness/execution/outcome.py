"""What a run did: `RunSummary` (trained, cached, failed, evaluated, done by another run; the signal that stopped
it and what it left), the record of an evaluation that produced none, and an interrupted run's summary."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from harness.execution.interrupts import Stop
from harness.execution.trials import describe as describe_trial
from harness.grid.plan import Plan
from harness.store.models import ModelCache
from harness.store.records import TrialRecord


@dataclasses.dataclass
class RunSummary:
    run_dir: Path
    trained: int
    cached: int
    failed_models: int
    evaluated: int
    skipped_evals: int
    failed_evals: int
    shared: int = 0  # models and evaluations another run finished while this one waited for them
    interrupted: int = 0  # the signal that stopped the run (2: Ctrl-C, 15: SIGTERM), else 0
    left: tuple[int, int] = (0, 0)  # trainings and evaluations an interrupted run leaves to a rerun
    wall: float = 0.0  # seconds

    @property
    def ok(self) -> bool:
        return self.failed_models == 0 and self.failed_evals == 0 and not self.interrupted


def _failed_record(job, experiment: dict, error: str) -> TrialRecord:
    """The record of an evaluation that produced none (its search failed, its trial crashed): described like any."""
    return TrialRecord(
        job.trial_id,
        job.experiment,
        job.task,
        job.label,
        job.seed,
        "failed",
        point=job.point,
        config_hash=job.config_hash,
        error=error,
        **describe_trial(experiment, job.label, job.chosen),
    )


def _interrupted(
    plan: Plan,
    evals_left: list,
    run_dir: Path,
    cache: ModelCache,
    stop: Stop,
    trained_here: int,
    locks,
    log,
) -> RunSummary:
    """A stopped run: the partial leaderboard and what a rerun has left to do."""
    models_left = sum(1 for spec in plan.models if not cache.has(spec))
    return RunSummary(
        run_dir,
        trained_here,
        len(plan.models) - models_left,
        0,
        0,
        len(plan.evals) - len(evals_left),
        0,
        interrupted=stop.signal,
        left=(models_left, len(evals_left)),
    )
