"""What a run did: `RunSummary` (trained, cached, failed, evaluated, done by another run; the signal that stopped
it and what it left): a finished run's (`collect_evaluations`, which also records the evaluations that produced
no record) and an interrupted one's (`interrupted_summary`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from harness.execution.interrupts import Stop
from harness.execution.terminal import log_path
from harness.execution.trials.evaluate import describe as describe_trial
from harness.grid.plan import Plan
from harness.store.files import DamagedFileError
from harness.store.progress import read_outcomes
from harness.store.records import TrialRecord, write_record


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


def failed_record(job, experiment: dict, error: str) -> TrialRecord:
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


def interrupted_summary(
    run_dir: Path, models: tuple[int, int], evals: tuple[int, int], stop: Stop, trained_here: int
) -> RunSummary:
    """A stopped run: what a rerun has left to do (the CLI writes the partial leaderboard). `models`: (planned,
    not stored now), `evals`: (planned, without a current record now)."""
    (n_models, models_left), (n_evals, evals_left) = models, evals
    return RunSummary(
        run_dir,
        trained_here,
        n_models - models_left,
        0,
        0,
        n_evals - evals_left,
        0,
        interrupted=stop.signal,
        left=(models_left, evals_left),
    )


def collect_evaluations(
    plan: Plan,
    todo: list,
    document: dict,
    run_dir: Path,
    run_id: str,
    search_errors: dict,
    log,
    trained: tuple[int, int, int, int],
    wall: float,
) -> RunSummary:
    """What a finished run did: a failed record for every evaluation that produced none (its search failed, its
    trial crashed), one line per failure with its log, and the counts. `trained`: (models planned, models to
    train, trained by this run, failed)."""
    experiments = document["experiments"]
    for (
        job
    ) in plan.unsearched:  # their search found no configuration: recorded as failed, the rest go on
        found = search_errors.get((job.experiment, job.label, job.seed), "no configuration chosen")
        write_record(
            run_dir, failed_record(job, experiments[job.experiment], f"search failed: {found}")
        )
        log(f"[laebench] FAILED {job.trial_id}: search failed: {found}")
    failed = len(plan.unsearched)
    evaluated_here = 0
    found = read_outcomes(run_dir, [job.trial_id for job in todo])  # the store, asked once
    for job in todo:
        record = _record_of(job, found[job.trial_id], experiments[job.experiment], run_dir)
        if record.status != "ok":
            failed += 1
            log(
                f"[laebench] FAILED {job.trial_id}: {record.error} (log: {log_path(run_dir, job.trial_id)})"
            )
        else:
            evaluated_here += record.run_id == run_id
    n_models, n_train, trained_here, failed_models = trained
    shared = (n_train - failed_models - trained_here) + (
        len(todo) + len(plan.unsearched) - failed - evaluated_here
    )
    if shared:
        log(f"[laebench] {shared} model(s)/evaluation(s) done by another run meanwhile")
    return RunSummary(
        run_dir,
        trained_here,
        n_models - n_train,
        failed_models,
        evaluated_here,
        len(plan.evals) - len(todo),
        failed,
        shared,
        wall=wall,
    )


def _record_of(job, found, experiment: dict, run_dir: Path) -> TrialRecord:
    """The job's record (`found`: `read_outcomes`'s answer); a failed one written when its trial crashed without
    one; a damaged one as failed."""
    if found is None:
        record = failed_record(
            job, experiment, "trial crashed without writing a result (see its log)"
        )
        write_record(run_dir, record)
        return record
    if isinstance(found, DamagedFileError):
        return TrialRecord(
            job.trial_id, job.experiment, job.task, job.label, job.seed, "failed", error=str(found)
        )
    return found
