"""Run a grid on Ray Tune: train every missing model once (dependency layer by layer), then run every
missing evaluation, then write the leaderboards.

Finished work lives in the results directory, not in Tune's state: `<results>/models/` (the model
cache, shared by all grids) and `<results>/<grid>/trials/*.json` (one record per evaluation). A rerun
therefore trains nothing and evaluates only what is missing or failed; `--resume` also continues
interrupted trainings from their last epoch. `address` joins an existing Ray cluster. A cached model
counts only when it passes verification (`ModelCache.check`: size, sha256, spec); a bad one is named in
one line and retrained. Trials lock their model or record, so concurrent runs on one folder share the
work; the summary counts what this run did itself.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import time
from pathlib import Path

from harness.execution.console import Console, log_path
from harness.execution.interrupts import Stop, fit
from harness.execution.search import apply_choices, plan_searches, run_searches
from harness.execution.trials import describe as describe_trial
from harness.execution.trials import record_is_current
from harness.execution.tune_functions import run_eval, run_train
from harness.grid.config import Grid, plugin_paths
from harness.grid.plan import Plan, make_plan, serialise
from harness.store.files import DamagedFileError
from harness.store.locks import lock_settings
from harness.store.models import ModelCache, lock_holder
from harness.store.records import TrialRecord, read_record, record_path, write_plan, write_record
from methods.base import UNRECORDED


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


def describe(plan: Plan, grid: Grid, results: Path) -> str:
    cache = ModelCache(results / "models")
    pending = {s.key for s in apply_choices(grid, results)}
    plan = make_plan(grid)
    lines = [
        f"Grid '{grid.name}': {len(plan.models)} model(s), {len(plan.evals)} evaluation trial(s)"
        + (f", {len(plan.unsearched)} more after their search" if plan.unsearched else "")
    ]
    for search in plan_searches(grid):
        users = ", ".join(f"{e}/{label}/seed{seed}" for e, label, seed in search.users)
        state = "to run" if search.key in pending else "done"
        lines.append(
            f"  search   {search.key:<28} {users}  {search.settings.num_samples} sample(s), {state}"
        )
    for i, layer in enumerate(plan.train_layers):
        for spec in layer:
            found = cache.check(spec)
            state = {"ok": "cached", "missing": "to train"}.get(
                found.status, f"to retrain ({found.reason})"
            )
            holder = lock_holder(cache.folder(spec)) if not found.ok else None
            state += f", being trained now by {holder}" if holder else ""
            lines.append(
                f"  train[{i}] {spec.key:<28} {spec.data.get('name', ''):<13} seed={spec.seed}  {state}"
            )
    run_dir = results / grid.name
    for job in plan.evals:
        state = "done" if _finished(run_dir, job, cache) else "to run"
        lines.append(f"  eval     {job.trial_id:<60} {state}")
    return "\n".join(lines)


def init_ray(address: str | None, extra_paths: list[str], verbose: bool = False) -> bool:
    """Start a private local Ray instance (no `address`) or join a cluster, with Ray's authentication as it is;
    True when this call started an instance (the run shuts it down at its end).

    laebench never sets `RAY_AUTH_MODE`: a local instance runs with the token Ray generates (Ray >= 2.59
    turns token authentication on for local clusters), a cluster with whatever its operator configured.
    A local instance listens on the loopback address only (`RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`, Ray's own
    single-machine mode), so nothing off this machine can reach its GCS or raylets at all. Unless `verbose`,
    Ray's and Tune's info lines (start banner, state writes) are off and worker output stays in the trials'
    log files (`harness.execution.console.trial_log`) instead of being forwarded here.
    """
    import logging

    import ray

    # Tune's console tables and banners off: harness.execution.console shows one progress view per phase instead
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    quiet_token_notice()
    level = logging.INFO if verbose else logging.WARNING
    for name in ("ray.tune", "ray.train", "ray.air"):
        logging.getLogger(name).setLevel(level)
    if ray.is_initialized():
        return False
    paths = [p for p in [*extra_paths, os.environ.get("PYTHONPATH", "")] if p]
    runtime_env = {"env_vars": {"PYTHONPATH": os.pathsep.join(paths)}}
    for var in ("LAEBENCH_CACHE", "LAEBENCH_DATA"):
        if os.environ.get(var):
            runtime_env["env_vars"][var] = os.environ[var]
    kwargs = {
        "include_dashboard": False,
        "runtime_env": runtime_env,
        "log_to_driver": verbose,
        "logging_level": level,
    }
    if address:
        ray.init(address=address, **kwargs)
        return False  # a cluster this run joined: it stays up
    else:
        num_cpus = int(os.environ.get("LAEBENCH_NUM_CPUS", os.cpu_count() or 1))
        loopback_only()
        # "local": always a fresh instance of our own; without it Ray joins any `ray start` cluster it finds
        # on this machine (another user's, a test's) and then refuses num_cpus.
        ray.init(address="local", num_cpus=num_cpus, **kwargs)
    return True


LOOPBACK_VAR = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def loopback_only() -> None:
    """Make the next local Ray instance listen on 127.0.0.1 only (unless the user set `LOOPBACK_VAR`).

    Ray binds its GCS and raylets to 127.0.0.1 when its node address is the loopback one, which it chooses
    when clusters are off (`LOOPBACK_VAR=0`, its default on macOS and Windows). Ray reads the variable once,
    at import, into `ray_constants.ENABLE_RAY_CLUSTER`, so the constant is refreshed too (ray may be imported
    already); `tests/test_untrusted_files.py` checks the address, so a Ray that changes this is noticed.
    """
    from ray._private import ray_constants

    os.environ.setdefault(LOOPBACK_VAR, "0")
    ray_constants.ENABLE_RAY_CLUSTER = ray_constants.env_bool(LOOPBACK_VAR, True)


class _TokenNotice(logging.Filter):
    """Drops Ray's notice that token authentication is on (the state laebench wants, not news); keeps its
    warning that authentication is *off*."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(
            "Token authentication is enabled for this Ray cluster"
        )


def quiet_token_notice() -> None:
    logger = logging.getLogger("ray._private.authentication.authentication_token_setup")
    if not any(isinstance(f, _TokenNotice) for f in logger.filters):
        logger.addFilter(_TokenNotice())


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
                    f"runs without GPUs) or join a cluster that has them with --address."
                )


def run_grid(
    grid: Grid,
    results: str | os.PathLike,
    *,
    data_root: str | None = None,
    address: str | None = None,
    resume: bool = False,
    reuse_stale: bool = False,
    verbose: bool = False,
    console: Console | None = None,
) -> RunSummary:
    console = console or Console(verbose=verbose)
    with Stop(console.line) as stop:
        return _run_grid(
            grid,
            results,
            data_root=data_root,
            address=address,
            resume=resume,
            reuse_stale=reuse_stale,
            console=console,
            stop=stop,
        )


def _run_grid(
    grid: Grid, results, *, data_root, address, resume, reuse_stale, console: Console, stop: Stop
) -> RunSummary:
    log = console.line
    results = Path(results).resolve()
    run_dir = results / grid.name
    make_plan(grid)  # a plan error (a task's jobs) stops the run before Ray starts
    locks = lock_settings()
    paths = plugin_paths(grid.source)
    started_ray = init_ray(address, paths, verbose=console.verbose)
    check_resources(
        grid
    )  # before anything is written: a grid this cluster cannot run leaves no folder
    run_dir.mkdir(parents=True, exist_ok=True)
    cache = ModelCache(results / "models", locks)
    run_id = f"{socket.gethostname()}:{os.getpid()}:{time.time():.0f}"
    common = {
        "models_dir": str(results / "models"),
        "run_dir": str(run_dir),
        "data_root": data_root,
        "plugins": grid.plugins,
        "plugin_paths": paths,
        "resume": resume,
        "run_id": run_id,
        "lock": locks,
        "max_failures": grid.max_failures,
        "verbose": console.verbose,
    }
    started = time.perf_counter()
    search_errors = run_searches(grid, results, common, log, stop, console)
    plan = make_plan(grid)  # searched methods now have their chosen configuration
    plan = _stale_models(plan, grid, cache, reuse_stale, log)
    # The leaderboard shows only this grid's current trials, not records left by an edited earlier version.
    document = serialise(plan, grid)
    write_plan(run_dir, document)

    to_train = []
    for layer in plan.train_layers:
        to_train.append([])
        for spec in layer:
            found = cache.check(spec)
            if found.status == "bad":
                log(f"[laebench] retraining {spec.key}: {found.reason}")
            if not found.ok:
                to_train[-1].append(spec)
    n_train = sum(map(len, to_train))
    busy = sum(1 for layer in to_train for s in layer if lock_holder(cache.folder(s)))
    log(
        f"[laebench] models: {len(plan.models)} needed, {len(plan.models) - n_train} cached, {n_train} to train"
        + (
            f" ({busy} being trained now by another run: this run waits for them and uses them)"
            if busy
            else ""
        )
    )
    failed_models = trained_here = 0
    for i, layer in enumerate(to_train):
        runnable = []
        for spec in layer:
            deps = _dependency_failures(spec, cache)
            if deps:
                cache.record_failure(spec, f"dependency failed: {deps}")
            else:
                runnable.append(spec)
        if runnable and not stop.signal:
            configs = [
                {
                    "spec": s.to_dict(),
                    "common": common,
                    "cpus": plan.resources[s.key]["cpu"],
                    "gpus": plan.resources[s.key]["gpu"],
                }
                for s in runnable
            ]
            _tune(
                run_train, configs, run_dir, f"training layer {i}", grid.max_failures, stop, console
            )
        if stop.signal:  # what finished is stored; nothing interrupted counts as failed
            break
        for spec in layer:
            entry = cache.entry(spec)
            trained_here += entry is not None and entry.get("run_id") == run_id
            if entry is None:
                failed_models += 1
                log(
                    f"[laebench] FAILED model {spec.key}: {cache.failure(spec) or 'no model written (trial crashed)'} "
                    f"(log: {log_path(run_dir, 'train/' + spec.key)})"
                )
                if cache.failure(spec) is None:
                    cache.record_failure(
                        spec, "trial crashed without writing a model (see Ray logs)"
                    )

    todo = [job for job in plan.evals if not _finished(run_dir, job, cache)]
    if stop.signal:
        return _interrupted(plan, todo, run_dir, cache, stop, trained_here, locks, log)
    log(
        f"[laebench] evaluations: {len(plan.evals)} planned, {len(plan.evals) - len(todo)} done, {len(todo)} to run"
    )
    experiments, jobs = document["experiments"], {t["trial_id"]: t for t in document["trials"]}
    if todo:
        configs = [
            {
                "job": jobs[job.trial_id],
                "common": common,
                "experiment": experiments[job.experiment],
                "cpus": job.resources["cpu"],
                "gpus": job.resources["gpu"],
            }
            for job in todo
        ]
        _tune(
            run_eval,
            eval_batches(configs, _slots()),
            run_dir,
            "evaluations",
            grid.max_failures,
            stop,
            console,
        )
    if stop.signal:
        left = [job for job in todo if not _finished(run_dir, job, cache)]
        return _interrupted(plan, left, run_dir, cache, stop, trained_here, locks, log)
    failed_evals = evaluated_here = 0
    for (
        job
    ) in plan.unsearched:  # their search found no configuration: recorded as failed, the rest go on
        error = f"search failed: {search_errors.get((job.experiment, job.label, job.seed), 'no configuration chosen')}"
        write_record(run_dir, _failed_record(job, experiments[job.experiment], error))
        log(f"[laebench] FAILED {job.trial_id}: {error}")
    for job in todo:
        path = record_path(run_dir, job.trial_id)
        if not path.exists():
            write_record(
                run_dir,
                _failed_record(
                    job,
                    experiments[job.experiment],
                    "trial crashed without writing a result (see its log)",
                ),
            )
        try:
            record = read_record(path)
        except DamagedFileError as exc:
            record = TrialRecord(
                job.trial_id,
                job.experiment,
                job.task,
                job.label,
                job.seed,
                "failed",
                error=str(exc),
            )
        if not record.ok:
            failed_evals += 1
            log(
                f"[laebench] FAILED {job.trial_id}: {record.error} (log: {log_path(run_dir, job.trial_id)})"
            )
        else:
            evaluated_here += record.run_id == run_id
    failed_evals += len(plan.unsearched)
    shared = (n_train - failed_models - trained_here) + (
        len(todo) + len(plan.unsearched) - failed_evals - evaluated_here
    )
    if shared:
        log(f"[laebench] {shared} model(s)/evaluation(s) done by another run meanwhile")
    if started_ray:
        _shutdown_ray()
    return RunSummary(
        run_dir,
        trained_here,
        len(plan.models) - n_train,
        failed_models,
        evaluated_here,
        len(plan.evals) - len(todo),
        failed_evals,
        shared,
        wall=time.perf_counter() - started,
    )


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
        **describe_trial(experiment, job.label, job.seed),
    )


def _shutdown_ray() -> None:
    """Stop the Ray instance this run started, quietly (its workers' exit is not news)."""
    import ray

    ray.shutdown()


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


def _stale_models(plan: Plan, grid: Grid, cache: ModelCache, reuse_stale: bool, log) -> Plan:
    """Say which models are to be trained because their code changed since a stored model of the same
    configuration was trained; with `reuse_stale`, plan with those stored models instead (marked in records)."""
    stale = {
        spec.key: found
        for spec in plan.models
        if not cache.has(spec) and (found := cache.stale(spec))
    }
    if not stale:
        return plan
    log(
        f"[laebench] {len(stale)} model(s) whose code changed since they were trained: "
        + (
            "reusing the stored ones (--reuse-stale; their cells are marked)"
            if reuse_stale
            else "training them anew (--reuse-stale keeps the stored ones)"
        )
    )
    for key, found in list(stale.items())[:5]:
        log(
            f"  {key}: stored as {found.folder.name} (code {found.manifest.get('code') or 'unrecorded'})"
        )
    pins = {k: e.manifest.get("code") or UNRECORDED for k, e in stale.items()}
    return make_plan(grid, pins=pins) if reuse_stale else plan


def _finished(run_dir: Path, job, cache: ModelCache) -> bool:
    """Done: an ok record with the same settings, made from the model now verified in the cache."""
    return record_is_current(run_dir, job.to_config(), cache)


def _dependency_failures(spec, cache: ModelCache) -> str:
    from methods import get as get_method

    bad = [
        dep.key for dep in get_method(spec.method).dependencies(spec).values() if not cache.has(dep)
    ]
    return ", ".join(bad)


def _slots() -> int:
    """CPUs in the cluster now: how many 1-CPU trials can run at once."""
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


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


def _tune(
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
