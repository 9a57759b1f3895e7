"""The Ray Tune backend: one phase of a run as one Tune experiment, a trial per config (evaluations batched,
`trials.entry.batches`), resources per trial, the phase's progress view fed by a Tune callback (`ray_progress.PhaseProgress`),
a graceful stop. Ray itself (a private local instance or a cluster joined) is `ray_cluster`'s. Ray is imported
when a phase runs, not with this module: a run with nothing to do never loads it."""

from __future__ import annotations

import time
from pathlib import Path

from harness.execution.backends.ray_cluster import (
    check_resources,
    cluster_slots,
    init_ray,
    shutdown_ray,
)
from harness.execution.interrupts import Stop, fit
from harness.execution.terminal import Console


class RayTuneBackend:
    """Ray Tune on a private local Ray instance (started here, stopped at `close`) or a cluster joined at `address`."""

    name = "ray"

    def __init__(self, address: str | None = None, verbose: bool = False):
        self.address, self.verbose, self.started = address, verbose, False

    def start(self, grid, plugin_folders: list[str]) -> None:
        self.started = init_ray(self.address, plugin_folders, verbose=self.verbose)
        check_resources(grid)

    def slots(self) -> int:
        return cluster_slots()

    def run_phase(self, fn, configs, run_dir, phase, max_failures=0, stop=None, console=None):
        run_phase(fn, configs, run_dir, phase, max_failures, stop, console)

    def close(self) -> None:
        if self.started:
            shutdown_ray()
            self.started = False


def run_phase(
    fn,
    configs: list[dict],
    run_dir: Path,
    phase: str,
    max_failures: int = 0,
    stop: Stop | None = None,
    console: Console | None = None,
) -> None:
    """One Tune experiment over `configs`, a trial each, resources per trial from the config."""
    from ray import tune

    from harness.execution.backends.ray_progress import PhaseProgress, units

    trainable = tune.with_resources(
        fn, lambda cfg: {"cpu": cfg["trial"]["cpus"], "gpu": cfg["trial"]["gpus"]}
    )
    view = (console or Console()).phase(phase, sum(units({"trial": c}) for c in configs))
    tuner = tune.Tuner(
        trainable,
        param_space={"trial": tune.grid_search(configs)},
        tune_config=tune.TuneConfig(
            reuse_actors=True, trial_dirname_creator=lambda trial: trial.trial_id
        ),
        run_config=tune.RunConfig(
            name=f"{phase}-{time.strftime('%Y%m%d-%H%M%S')}",
            storage_path=str(run_dir / ".tune"),
            verbose=0,
            callbacks=[PhaseProgress(view)],
            failure_config=tune.FailureConfig(max_failures=max_failures),
        ),
    )
    with view:
        fit(tuner, stop)
