"""One phase of a run on Ray Tune: a trial per config (evaluations batched, `eval_batches`), resources per trial,
the phase's progress view, a graceful stop."""

from __future__ import annotations

import time
from pathlib import Path

from harness.execution.console import Console
from harness.execution.interrupts import Stop, fit


def eval_batches(
    configs: list[dict], slots: int, per_slot: int = 4, max_batch: int = 8
) -> list[dict]:
    """Evaluations grouped into Tune trials of up to `max_batch` (same resources), about `per_slot` trials per
    slot when there are enough.

    One Tune trial per evaluation cost more than the evaluations on small grids: Tune starts an actor for the
    next pending trial (~4 s: a worker importing torch), a finished trial's actor takes that trial first
    (`reuse_actors`), and the new actor is stopped unused. On the 2-core demo 17 actors were started this
    way and 83 of 86 one-second evaluations ran one after another in a single actor. A batch keeps an actor
    busy long enough for the second one to start. Each evaluation still has its own record and lock.
    """
    groups: dict[tuple, list[dict]] = {}
    for config in configs:
        groups.setdefault((config["cpus"], config["gpus"]), []).append(config)
    size = max(1, min(max_batch, -(-len(configs) // (slots * per_slot))))
    return [
        {"batch": group[i : i + size], "cpus": cpus, "gpus": gpus}
        for (cpus, gpus), group in groups.items()
        for i in range(0, len(group), size)
    ]


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

    from harness.execution.progress import PhaseProgress, units

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
