"""Running searches on Ray Tune: Tune samples `num_samples` configurations of a searched method (random search, or
Optuna), each trial trains its concrete model (`harness.execution.search.trial`) and reports the validation loss
every epoch, so ASHA can stop poor trials early; the best finished trial by `search.metric` is the choice, and its
summary is stored (`harness.store.searches`)."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

from harness.execution.context import RunContext
from harness.execution.search.plan import Search, load_choices
from harness.execution.search.tune import scheduler, search_alg, tune_space
from harness.grid.schema import Grid
from harness.store.locks import exclusive
from harness.store.searches import load_summary, summary_path, write_summary


def run_searches(
    grid: Grid, results: Path, ctx: RunContext, log=print, stop=None, console=None
) -> dict[str, str]:
    """Run every pending search; returns {(experiment, label, seed): error} for the users of searches where no
    trial finished. After a stop signal (`harness.execution.interrupts.Stop`) nothing more is searched or recorded."""
    _, pending = load_choices(grid, results)
    if not pending:
        return {}
    log(f"[laebench] searches: {len(pending)} to run")
    errors = {}
    for i, search in enumerate(pending, 1):
        who = ", ".join(f"{e}/{label}/seed{seed}" for e, label, seed in search.users)
        log(
            f"[laebench] search {i}/{len(pending)} ({who}): {search.settings.num_samples} sample(s) of "
            f"{json.dumps(search.spaces)}, {search.settings.scheduler['name']}, chosen by {search.settings.metric}"
        )
        path = summary_path(results, search)
        path.parent.mkdir(parents=True, exist_ok=True)
        # one run searches at a time; a concurrent run of the grid waits, then takes the choice
        with exclusive(path.with_suffix(".lock"), f"search {search.key}", ctx.lock):
            summary = load_summary(results, search)
            if summary is not None and summary["status"] == "ok":
                log(f"[laebench] search {search.key}: done by another run meanwhile")
                continue
            summary = _run_one(search, grid, results, ctx, log, stop, console)
            if summary is None:  # interrupted: neither chosen nor failed; a rerun searches again
                return errors
            write_summary(results, search, summary)
        if summary["status"] != "ok":
            errors.update({user: summary["error"] for user in search.users})
            log(f"[laebench] FAILED search {search.key}: {summary['error']}")
        else:
            log(
                f"[laebench] search {search.key}: best {search.settings.metric} {summary['best']['value']:.5g} "
                f"with {summary['best']['config']} ({summary['finished']} finished, {summary['stopped_early']} "
                f"stopped early, {summary['failed']} failed; {summary['epochs']} epochs trained)"
            )
    return errors


def _run_one(
    search: Search, grid: Grid, results: Path, ctx: RunContext, log, stop=None, console=None
) -> dict | None:
    """One search on Ray Tune; its summary (None when a stop signal ended it: neither chosen nor failed)."""
    import harness.execution.interrupts as interrupts
    from harness.execution.terminal import Console

    s = search.settings
    grid_points = math.prod(len(sp["grid"]) for sp in search.spaces.values() if "grid" in sp)
    view = (console or Console()).phase(f"search {search.key}", s.num_samples * grid_points)
    started = time.perf_counter()
    try:
        with view:
            fitted = interrupts.fit(_tuner(search, grid, ctx, view), stop)
        if stop is not None and stop.signal:
            return None
        trials, crash = [_trial_row(r) for r in fitted], ""
    except Exception as exc:  # Tune itself failed: this search fails, the grid's other work goes on
        trials, crash = [], " ".join(str(exc).split())[-500:]
    return _summary(search, trials, crash, time.perf_counter() - started)


def _tuner(search: Search, grid: Grid, ctx: RunContext, view):
    """The Tune experiment of one search: sampled spaces, its search algorithm and scheduler, the progress view."""
    from ray import tune

    from harness.execution.backends.ray_progress import PhaseProgress
    from harness.execution.search.trial import search_trial

    s, resources = search.settings, {"cpu": search.resources["cpu"], "gpu": search.resources["gpu"]}
    static = {
        "base": search.base.to_dict(),
        "context": ctx,
        "cpus": resources["cpu"],
        "gpus": resources["gpu"],
        "metric": s.metric,
        "task": search.task,
        "task_params": search.task_params,
        "data": search.data,
    }
    trainable = tune.with_resources(tune.with_parameters(search_trial, static=static), resources)
    return tune.Tuner(
        trainable,
        param_space={"sampled": {path: tune_space(sp) for path, sp in search.spaces.items()}},
        tune_config=tune.TuneConfig(
            num_samples=s.num_samples,
            search_alg=search_alg(s, search.base.seed if s.seed is None else s.seed),
            scheduler=scheduler(s, search.base.train),
            reuse_actors=False,
            trial_dirname_creator=lambda trial: trial.trial_id,
        ),
        run_config=tune.RunConfig(
            name=f"search-{search.key}-{time.strftime('%Y%m%d-%H%M%S')}",
            storage_path=str(Path(ctx.run_dir) / ".tune"),
            verbose=0,
            callbacks=[PhaseProgress(view)],
            failure_config=tune.FailureConfig(max_failures=grid.max_failures),
        ),
    )


def _summary(search: Search, trials: list[dict], crash: str, wall: float) -> dict:
    """What a search leaves in the store: its trials, the best finished one (by its metric), or why it failed."""
    s = search.settings
    finished = [t for t in trials if t["status"] == "finished" and _finite(t["value"])]
    summary = {
        "key": search.key,
        "users": [list(u) for u in search.users],
        "method": search.base.method,
        "spaces": search.spaces,
        "settings": dataclasses.asdict(s),
        "metric": s.metric,
        "mode": s.mode,
        "trials": len(trials),
        "finished": len(finished),
        "stopped_early": sum(t["status"] == "stopped" for t in trials),
        "failed": sum(t["status"] == "failed" for t in trials),
        "epochs": sum(t["epochs"] for t in trials),
        "wall_time_s": wall,
        "trial_rows": trials,
        "status": "ok",
        "error": "",
        "best": None,
        "finished_at": time.time(),
    }
    if not finished:
        errors = sorted({t["error"] for t in trials if t["error"]})
        summary.update(
            status="failed",
            error=crash
            or f"no trial finished with a finite {s.metric}"
            + (f"; trial errors: {' | '.join(errors)[:500]}" if errors else ""),
        )
        return summary
    best = (min if s.mode == "min" else max)(finished, key=lambda t: t["value"])
    summary["best"] = {k: best[k] for k in ("config", "value", "model_key", "epochs")}
    return summary


def _trial_row(result) -> dict:
    m = result.metrics or {}
    status = "failed" if result.error else ("finished" if m.get("finished") else "stopped")
    return {
        "config": (result.config or {}).get("sampled", {}),
        "status": status,
        "epochs": int(m.get("training_iteration", 0) or 0),
        "value": m.get("selection"),
        "val_loss": m.get("val_loss"),
        "model_key": m.get("model_key"),
        "error": _last_line(result.error) if result.error else "",
    }


def _last_line(error) -> str:
    """`RuntimeError: diverged` from a trial's error (Tune wraps the trial's traceback)."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return (lines[-1] if lines else type(error).__name__)[:300]


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
