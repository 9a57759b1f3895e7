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

import os
import socket
import time
from pathlib import Path

from harness.execution.console import Console, log_path
from harness.execution.context import RunContext
from harness.execution.interrupts import Stop
from harness.execution.outcome import RunSummary, _failed_record, _interrupted
from harness.execution.ray_setup import check_resources, cluster_slots, init_ray, shutdown_ray
from harness.execution.search import load_choices, run_searches
from harness.execution.stale import _stale_models
from harness.execution.trials import record_is_current
from harness.execution.tune_functions import run_eval, run_train
from harness.execution.tune_phase import eval_batches, run_phase
from harness.grid.config import plugin_paths
from harness.grid.plan import make_plan, serialise
from harness.grid.plugins import plugin_folders
from harness.grid.schema import Grid
from harness.store.files import DamagedFileError
from harness.store.locks import lock_settings
from harness.store.models import ModelCache
from harness.store.records import TrialRecord, read_record, record_path, write_plan, write_record
from harness.store.verify import lock_holder


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
    choices, pending = load_choices(grid, results)
    plan = make_plan(grid, choices)  # a plan error (a task's jobs) stops the run before Ray starts
    locks = lock_settings()
    paths = plugin_folders(grid.plugins, plugin_paths(grid.source))  # the workers' import path
    started_ray = init_ray(address, paths, verbose=console.verbose)
    check_resources(
        grid
    )  # before anything is written: a grid this cluster cannot run leaves no folder
    run_dir.mkdir(parents=True, exist_ok=True)
    cache = ModelCache(results / "models", locks)
    run_id = f"{socket.gethostname()}:{os.getpid()}:{time.time():.0f}"
    context = RunContext(
        models_dir=str(results / "models"),
        run_dir=str(run_dir),
        data_root=data_root,
        plugins=tuple(grid.plugins),
        plugin_paths=tuple(paths),
        resume=resume,
        run_id=run_id,
        lock=locks,
        max_failures=grid.max_failures,
        verbose=console.verbose,
    )
    started = time.perf_counter()
    search_errors = run_searches(grid, results, context, log, stop, console)
    if pending:  # searched methods now have their chosen configuration
        choices, _ = load_choices(grid, results)
        plan = make_plan(grid, choices)
    plan = _stale_models(plan, grid, choices, cache, reuse_stale, log)
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
                    "context": context,
                    "cpus": plan.resources[s.key]["cpu"],
                    "gpus": plan.resources[s.key]["gpu"],
                }
                for s in runnable
            ]
            run_phase(
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
                "context": context,
                "experiment": experiments[job.experiment],
                "cpus": job.resources["cpu"],
                "gpus": job.resources["gpu"],
            }
            for job in todo
        ]
        run_phase(
            run_eval,
            eval_batches(configs, cluster_slots()),
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
        shutdown_ray()
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


def _finished(run_dir: Path, job, cache: ModelCache) -> bool:
    """Done: an ok record with the same settings, made from the model now verified in the cache."""
    return record_is_current(run_dir, job.to_config(), cache)


def _dependency_failures(spec, cache: ModelCache) -> str:
    from methods import get as get_method

    bad = [
        dep.key for dep in get_method(spec.method).dependencies(spec).values() if not cache.has(dep)
    ]
    return ", ".join(bad)
