"""Hyper-parameter searches on Ray Tune: choose each searched method's configuration on validation data, then
hand the chosen model to every task like any fixed-parameter model.

A method label whose parameters or training settings hold spaces (`harness.grid.spaces`) is searched once per seed:
Tune samples `num_samples` configurations (random search, or Optuna), each trial trains its concrete model
(`ModelSpec` with the sampled values) and reports the validation loss every epoch, so ASHA can stop poor trials
early. A trial that trains to the end stores its model in the cache under its normal hash; the best finished
trial by `search.metric` (the best validation loss, or a task metric computed on the validation split, the test
split withheld) is the choice. The summary (trials run, stopped early, failed, best value, chosen
configuration, the model's key) is stored under `<results>/searches/<key>.json`, shared by every grid like
the model cache, so a rerun searches and trains nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from pathlib import Path

from harness.execution.context import RunContext
from harness.execution.search_tune import _scheduler, _search_alg, _tune_space
from harness.grid.schema import Grid
from harness.grid.spaces import SearchSettings, concrete, is_space
from harness.store.files import write_atomic
from harness.store.locks import exclusive
from methods.base import ModelSpec


@dataclasses.dataclass
class Search:
    base: ModelSpec  # params and train hold the spaces
    settings: SearchSettings
    resources: dict
    task: str
    task_params: dict
    data: dict  # the experiment's data roles (a task metric needs the OOD set too)
    users: list[tuple[str, str, int]]  # (experiment, label, seed) that take this search's choice

    @property
    def key(self) -> str:
        identity = {"base": self.base.to_dict(), "settings": dataclasses.asdict(self.settings)}
        if self.settings.task_metric:
            identity.update(task=self.task, task_params=self.task_params, data=self.data)
        blob = json.dumps(identity, sort_keys=True, default=str)
        return f"{self.base.method}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"

    @property
    def spaces(self) -> dict[str, dict]:
        """Flat `params.<name>` / `train.<name>` -> space."""
        return {
            f"{part}.{k}": v
            for part in ("params", "train")
            for k, v in getattr(self.base, part).items()
            if is_space(v)
        }


def plan_searches(grid: Grid) -> list[Search]:
    """One search per distinct (searched model, settings); experiments sharing a method entry share it."""
    found: dict[str, Search] = {}
    for exp in grid.experiments:
        for entry in exp.methods:
            if not exp.is_search(entry):
                continue
            for seed in entry.seeds or exp.seeds:
                base = ModelSpec(
                    method=entry.key,
                    params=entry.params,
                    data=exp.data["train"],
                    model=exp.model,
                    train=entry.train or exp.train,
                    seed=seed,
                )
                s = Search(base, exp.search, exp.resources, exp.task, exp.task_params, exp.data, [])
                found.setdefault(s.key, s).users.append((exp.name, entry.label, seed))
    return list(found.values())


def summary_path(results: Path, search: Search) -> Path:
    return Path(results) / "searches" / f"{search.key}.json"


def load_summary(results: Path, search: Search) -> dict | None:
    try:
        summary = json.loads(summary_path(results, search).read_text())
    except (OSError, ValueError):
        return None
    return (
        summary if isinstance(summary, dict) and summary.get("status") in ("ok", "failed") else None
    )


def stored_summaries(results: Path) -> list[dict]:
    """Every search summary under `results/searches` (`harness verify`); an unreadable one has status
    "unreadable" (a rerun of its grid searches again)."""
    out = []
    for path in sorted((Path(results) / "searches").glob("*.json")):
        try:
            summary = json.loads(path.read_text())
        except (OSError, ValueError):
            summary = None
        if not isinstance(summary, dict) or summary.get("status") not in ("ok", "failed"):
            summary = {"key": path.stem, "status": "unreadable", "error": "unreadable summary"}
        out.append(summary)
    return out


def load_choices(grid: Grid, results: Path) -> tuple[dict, list[Search]]:
    """The configurations stored searches chose, by (experiment, label, seed) -> {"params", "train", "search"}
    (an input of `harness.grid.plan.make_plan`; the grid is not changed), and the searches still to run (no
    summary yet, or a failed one: a rerun tries again)."""
    choices, pending = {}, []
    for search in plan_searches(grid):
        summary = load_summary(results, search)
        if summary is None or summary["status"] != "ok":
            pending.append(search)
            continue
        chosen = concrete(search.base, summary["best"]["config"])
        for user in search.users:
            choices[tuple(user)] = {
                "params": chosen.params,
                "train": chosen.train,
                "search": _search_record(summary),
            }
    return choices, pending


def _search_record(summary: dict) -> dict:
    """What an evaluation record keeps of its model's search (the leaderboard shows it)."""
    return {
        k: summary[k]
        for k in ("key", "metric", "mode", "best", "trials", "finished", "stopped_early", "failed")
    }


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
            write_atomic(path, json.dumps(summary, indent=1, default=str).encode())
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
    from ray import tune

    import harness.execution.interrupts as interrupts
    from harness.execution.console import Console
    from harness.execution.progress import PhaseProgress
    from harness.execution.search_trial import search_trial

    s = search.settings
    space = {path: _tune_space(sp) for path, sp in search.spaces.items()}
    static = {
        "base": search.base.to_dict(),
        "context": ctx,
        "cpus": search.resources["cpu"],
        "gpus": search.resources["gpu"],
        "metric": s.metric,
        "task": search.task,
        "task_params": search.task_params,
        "data": search.data,
    }
    trainable = tune.with_resources(
        tune.with_parameters(search_trial, static=static),
        {"cpu": search.resources["cpu"], "gpu": search.resources["gpu"]},
    )
    seed = search.base.seed if s.seed is None else s.seed
    grid_points = math.prod(len(sp["grid"]) for sp in search.spaces.values() if "grid" in sp)
    view = (console or Console()).phase(f"search {search.key}", s.num_samples * grid_points)
    started = time.perf_counter()
    tuner = tune.Tuner(
        trainable,
        param_space={"sampled": space},
        tune_config=tune.TuneConfig(
            num_samples=s.num_samples,
            search_alg=_search_alg(s, seed),
            scheduler=_scheduler(s, search.base.train),
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
    try:
        with view:
            fitted = interrupts.fit(tuner, stop)
        if stop is not None and stop.signal:
            return None
        trials = [_trial_row(r) for r in fitted]
    except Exception as exc:  # Tune itself failed: this search fails, the grid's other work goes on
        trials, crash = [], " ".join(str(exc).split())[-500:]
    else:
        crash = ""
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
        "wall_time_s": time.perf_counter() - started,
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
    pick = min if s.mode == "min" else max
    best = pick(finished, key=lambda t: t["value"])
    summary["best"] = {
        "config": best["config"],
        "value": best["value"],
        "model_key": best["model_key"],
        "epochs": best["epochs"],
    }
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
