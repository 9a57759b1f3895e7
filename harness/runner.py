"""Run a grid on Ray Tune: train every missing model once (dependency layer by layer), then run every
missing evaluation, then write the leaderboards.

Finished work lives in the results directory, not in Tune's state: `<results>/models/` (the model
cache, shared by all grids) and `<results>/<grid>/trials/*.json` (one record per evaluation). A rerun
therefore trains nothing and evaluates only what is missing or failed; `--resume` also continues
interrupted trainings from their last epoch. `address` joins an existing Ray cluster.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from pathlib import Path

from .cache import ModelCache
from .config import Grid
from .leaderboard import write_leaderboards
from .plan import Plan, make_plan
from .trials import eval_trial, record_path, train_trial


@dataclasses.dataclass
class RunSummary:
    run_dir: Path
    trained: int
    cached: int
    failed_models: int
    evaluated: int
    skipped_evals: int
    failed_evals: int

    @property
    def ok(self) -> bool:
        return self.failed_models == 0 and self.failed_evals == 0


def describe(plan: Plan, grid: Grid, results: Path) -> str:
    cache = ModelCache(results / "models")
    lines = [f"Grid '{grid.name}': {len(plan.models)} model(s), {len(plan.evals)} evaluation trial(s)"]
    for i, layer in enumerate(plan.train_layers):
        for spec in layer:
            state = "cached" if cache.has(spec) else "to train"
            lines.append(f"  train[{i}] {spec.key:<28} {spec.data.get('name', ''):<13} seed={spec.seed}  {state}")
    run_dir = results / grid.name
    for job in plan.evals:
        state = "done" if _finished(run_dir, job) else "to run"
        lines.append(f"  eval     {job.trial_id:<60} {state}")
    return "\n".join(lines)


def init_ray(address: str | None, extra_paths: list[str]) -> None:
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    if ray.is_initialized():
        return
    paths = [p for p in [*extra_paths, os.environ.get("PYTHONPATH", "")] if p]
    runtime_env = {"env_vars": {"PYTHONPATH": os.pathsep.join(paths), "RAY_AUTH_MODE": "disabled"}}
    for var in ("LAEBENCH_CACHE", "LAEBENCH_DATA"):
        if os.environ.get(var):
            runtime_env["env_vars"][var] = os.environ[var]
    kwargs = {"include_dashboard": False, "runtime_env": runtime_env, "log_to_driver": True}
    if address:
        ray.init(address=address, **kwargs)
    else:
        num_cpus = int(os.environ.get("LAEBENCH_NUM_CPUS", os.cpu_count() or 1))
        ray.init(num_cpus=num_cpus, **kwargs)


def check_resources(grid: Grid) -> None:
    """A trial asking for more than the cluster has would wait forever: fail now, saying what to change."""
    import ray

    have = ray.cluster_resources()
    for exp in grid.experiments:
        for kind, name in (("cpu", "CPU"), ("gpu", "GPU")):
            need = exp.resources[kind]
            if need > have.get(name, 0):
                raise ValueError(
                    f"Experiment '{exp.name}' asks for {kind}: {need} per trial but the Ray cluster has "
                    f"{have.get(name, 0):g} {name}(s). Lower resources.{kind} in the grid (configs/paper-cpu.yaml "
                    f"runs without GPUs) or join a cluster that has them with --address.")


def run_grid(grid: Grid, results: str | os.PathLike, *, data_root: str | None = None, address: str | None = None,
             resume: bool = False, log=print) -> RunSummary:
    results = Path(results).resolve()
    run_dir = results / grid.name
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "grid.json").write_text(json.dumps(grid.raw, indent=1, default=str))
    plan = make_plan(grid)
    # The leaderboard shows only this grid's current trials, not records left by an edited earlier version.
    (run_dir / "plan.json").write_text(json.dumps({j.trial_id: j.config_hash for j in plan.evals}, indent=1))
    cache = ModelCache(results / "models")
    common = {"models_dir": str(results / "models"), "run_dir": str(run_dir), "data_root": data_root,
              "plugins": grid.plugins, "resume": resume}
    grid_dir = str(Path(grid.source).resolve().parent) if grid.source and Path(grid.source).exists() else ""
    init_ray(address, [os.getcwd(), grid_dir])
    check_resources(grid)
    started = time.perf_counter()

    to_train = [[s for s in layer if not cache.has(s)] for layer in plan.train_layers]
    n_train = sum(map(len, to_train))
    log(f"[laebench] models: {len(plan.models)} needed, {len(plan.models) - n_train} cached, {n_train} to train")
    failed_models = 0
    for i, layer in enumerate(to_train):
        runnable = []
        for spec in layer:
            deps = _dependency_failures(spec, cache)
            if deps:
                cache.record_failure(spec, f"dependency failed: {deps}")
            else:
                runnable.append(spec)
        if runnable:
            configs = [{"spec": s.to_dict(), "common": common, "cpus": plan.resources[s.key]["cpu"],
                        "gpus": plan.resources[s.key]["gpu"]} for s in runnable]
            log(f"[laebench] training layer {i}: {len(configs)} model(s)")
            _tune(_run_train, configs, run_dir, f"train{i}")
        for spec in layer:
            if not cache.has(spec):
                failed_models += 1
                log(f"[laebench] FAILED model {spec.key}: {cache.failure(spec) or 'no model written (trial crashed)'}")
                if cache.failure(spec) is None:
                    cache.record_failure(spec, "trial crashed without writing a model (see Ray logs)")

    todo = [job for job in plan.evals if not _finished(run_dir, job)]
    log(f"[laebench] evaluations: {len(plan.evals)} planned, {len(plan.evals) - len(todo)} done, {len(todo)} to run")
    experiments = {e.name: dataclasses.asdict(e) for e in grid.experiments}
    if todo:
        configs = [{"job": job.to_config(), "common": common, "experiment": experiments[job.experiment],
                    "cpus": job.resources["cpu"], "gpus": job.resources["gpu"]} for job in todo]
        _tune(_run_eval, configs, run_dir, "eval")
    failed_evals = 0
    for job in todo:
        path = record_path(run_dir, job.trial_id)
        if not path.exists():
            from .trials import write_record

            write_record(run_dir, {"trial_id": job.trial_id, "experiment": job.experiment, "task": job.task,
                                   "label": job.label, "seed": job.seed, "point": job.point,
                                   "config_hash": job.config_hash, "status": "failed", "metrics": [],
                                   "error": "trial crashed without writing a result (see Ray logs)"})
        record = json.loads(path.read_text())
        if record["status"] != "ok":
            failed_evals += 1
            log(f"[laebench] FAILED {job.trial_id}: {record['error']}")
    write_leaderboards(run_dir)
    log(f"[laebench] done in {time.perf_counter() - started:.1f}s: trained {n_train - failed_models}, "
        f"failed models {failed_models}, evaluated {len(todo) - failed_evals}, failed evaluations {failed_evals}")
    log(f"[laebench] leaderboard: {run_dir / 'leaderboard.md'}")
    return RunSummary(run_dir, n_train - failed_models, len(plan.models) - n_train, failed_models,
                      len(todo) - failed_evals, len(plan.evals) - len(todo), failed_evals)


def _finished(run_dir: Path, job) -> bool:
    """A trial is done when its record is ok and was made with the same settings (config hash)."""
    path = record_path(run_dir, job.trial_id)
    if not path.exists():
        return False
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError:
        return False
    return record.get("status") == "ok" and record.get("config_hash") == job.config_hash


def _dependency_failures(spec, cache: ModelCache) -> str:
    from methods import get as get_method

    bad = [dep.key for dep in get_method(spec.method).dependencies(spec).values() if not cache.has(dep)]
    return ", ".join(bad)


def _run_train(config: dict) -> None:
    train_trial(config["trial"])


def _run_eval(config: dict) -> None:
    eval_trial(config["trial"])


def _tune(fn, configs: list[dict], run_dir: Path, phase: str) -> None:
    """One Tune experiment over `configs`, a trial each, resources per trial from the config."""
    from ray import tune

    trainable = tune.with_resources(fn, lambda cfg: {"cpu": cfg["trial"]["cpus"], "gpu": cfg["trial"]["gpus"]})
    tuner = tune.Tuner(
        trainable,
        param_space={"trial": tune.grid_search(configs)},
        tune_config=tune.TuneConfig(reuse_actors=True, trial_dirname_creator=lambda trial: trial.trial_id),
        run_config=tune.RunConfig(name=f"{phase}-{time.strftime('%Y%m%d-%H%M%S')}",
                                  storage_path=str(run_dir / ".tune"), verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=0)),
    )
    tuner.fit()
