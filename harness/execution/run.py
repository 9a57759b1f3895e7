"""Run a grid, phase by phase: searches (their choices complete the plan) -> the plan -> training layers (every
missing model once, dependency layer by layer) -> evaluations (every missing one) -> what the run did.

Finished work lives in the results directory, not in a backend's state: `<results>/models/` (the model store,
shared by all grids) and `<results>/<grid>/trials/*.json` (one record per evaluation). A rerun therefore trains
nothing and evaluates only what is missing or failed, and when nothing is missing it starts no backend at all (no
Ray). `--resume` also continues interrupted trainings from their last checkpoint. A cached model counts only when
it passes verification (`ModelCache.check`: size, sha256, spec); a bad one is named in one line and retrained.
Trials lock their model or record, so concurrent runs on one folder share the work; the summary counts what this
run did itself. The plan is made once, again only when searches chose configurations or `--reuse-stale` pins
stored models (`harness.execution.stale`).
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.execution.backends import make_backend
from harness.execution.context import RunContext
from harness.execution.interrupts import Stop
from harness.execution.outcome import RunSummary, collect_evaluations, interrupted_summary
from harness.execution.search.plan import load_choices
from harness.execution.stale import note_stale
from harness.execution.terminal import Console, log_path
from harness.execution.trials.entry import batches, run_eval, run_train
from harness.grid.config import plugin_paths
from harness.grid.plan import Plan, make_plan, serialise
from harness.grid.plugins import plugin_folders
from harness.grid.schema import Grid
from harness.store.layout import LOCK
from harness.store.locks import clear_abandoned, lock_settings
from harness.store.models import ModelCache
from harness.store.progress import Progress, evals_left, survey_models, survey_plan
from harness.store.records import record_path, write_plan


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
    executor: str = "ray",
) -> RunSummary:
    """Run `grid` into `results` on `executor` ("ray": Ray Tune, the default; "local": this process)."""
    console = console or Console(verbose=verbose)
    backend = make_backend(executor, address, console.verbose)
    with Stop(console.line) as stop:
        run = _Run(grid, Path(results).resolve(), console, stop, backend, data_root, resume)
        try:
            return run.go(reuse_stale)
        finally:
            backend.close()


@dataclass
class _Run:
    grid: Grid
    results: Path
    console: Console
    stop: Stop
    backend: object  # harness.execution.backends.Backend
    data_root: str | None
    resume: bool
    started: float = field(default_factory=time.perf_counter)
    backend_up: bool = False

    def __post_init__(self):
        self.run_dir = self.results / self.grid.name
        self.stored: set[str] = set()  # keys of the models verified in the store (dependencies)

    def log(self, text: str) -> None:
        self.console.line(text)

    def go(self, reuse_stale: bool) -> RunSummary:
        """The walk of a run, each layer asked once per phase: the grid for the plan, the store for what the
        plan still needs, the backend for the trainings and the evaluations, the store for what they left."""
        plan, document, progress, search_errors = self.make_plan(reuse_stale)
        to_train, todo = self.note_models(progress), progress.evals_left
        self.stored = {m.spec.key for m in progress.models if m.stored}
        if any(to_train) or todo:
            self.start_backend()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        write_plan(self.run_dir, document)
        trained_here, failed_models = self.train(plan, to_train)
        if self.stop.signal:
            return self.interrupted(plan, todo, trained_here)
        self.evaluate(plan, todo, document)
        if self.stop.signal:
            return self.interrupted(plan, evals_left(self.run_dir, todo, self.cache), trained_here)
        return collect_evaluations(
            plan, todo, document, self.run_dir, self.context.run_id, search_errors, self.log,
            trained=(len(progress.models), sum(map(len, to_train)), trained_here, failed_models),
            wall=time.perf_counter() - self.started,
        )  # fmt: skip

    @property
    def context(self) -> RunContext:
        """What every trial is told about the run (the same object for the whole run)."""
        if not hasattr(self, "_context"):
            self._context = RunContext(
                models_dir=str(self.results / "models"),
                run_dir=str(self.run_dir),
                data_root=self.data_root,
                plugins=tuple(self.grid.plugins),
                plugin_paths=tuple(self.folders),
                resume=self.resume,
                run_id=f"{socket.gethostname()}:{os.getpid()}:{time.time():.0f}",
                lock=self.locks,
                max_failures=self.grid.max_failures,
                verbose=self.console.verbose,
            )
        return self._context

    def start_backend(self) -> None:
        """Start (or join) what runs the trials, once; before anything is written, so a grid this backend cannot
        run (resources it lacks) leaves no folder."""
        if not self.backend_up:
            self.backend.start(self.grid, self.folders)
            self.backend_up = True

    def make_plan(self, reuse_stale: bool) -> tuple[Plan, dict, Progress, dict]:
        """The plan, its serialised form and what of it the store holds (a plan error stops the run before
        anything starts); pending searches run first, on the backend, and their choices complete it;
        `--reuse-stale` pins stored models of changed code and plans again."""
        choices, pending = load_choices(self.grid, self.results)
        self.folders = plugin_folders(self.grid.plugins, plugin_paths(self.grid.source))
        plan, errors = make_plan(self.grid, choices), {}
        document = serialise(plan, self.grid)
        self.locks = lock_settings()
        self.cache = ModelCache(self.results / "models", self.locks)
        if pending:
            choices, plan, errors = self.search(pending)
            document = serialise(plan, self.grid)
        progress = survey_plan(plan, self.cache, self.run_dir)
        pins = note_stale(progress.stale, reuse_stale, self.log)
        if pins:
            plan = make_plan(self.grid, choices, pins=pins)
            document = serialise(plan, self.grid)
            progress = survey_plan(plan, self.cache, self.run_dir)
        return plan, document, progress, errors

    def search(self, pending: list) -> tuple[dict, Plan, dict]:
        """Run the pending searches on the backend (Ray Tune only); their choices, the plan they complete, and
        the errors of those that found nothing."""
        from harness.execution.search.run import run_searches

        if self.backend.name != "ray":
            raise ValueError(
                f"grid '{self.grid.name}' searches hyper-parameters ({len(pending)} search(es) to run), "
                f"which needs Ray Tune: run it without --executor local"
            )
        self.start_backend()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        errors = run_searches(
            self.grid, self.results, self.context, self.log, self.stop, self.console
        )
        choices, _ = load_choices(self.grid, self.results)
        return choices, make_plan(self.grid, choices), errors

    def note_models(self, progress: Progress) -> list[list]:
        """Say what the store holds of the plan's models; the models to train, by training layer."""
        for model in progress.models:
            if model.found.status == "bad":
                self.log(f"[laebench] retraining {model.spec.key}: {model.found.reason}")
        to_train, n_models = progress.to_train, len(progress.models)
        n_train = sum(map(len, to_train))
        busy = sum(1 for m in progress.models if not m.stored and m.holder)
        self.log(
            f"[laebench] models: {n_models} needed, {n_models - n_train} cached, {n_train} to train"
            + (
                f" ({busy} being trained now by another run: this run waits for them and uses them)"
                if busy
                else ""
            )
        )
        self.note_interrupted(sum(m.found.status == "interrupted" for m in progress.models))
        return to_train

    def note_interrupted(self, n: int) -> None:
        """Say what happens to the `n` trainings an interrupted run left half done: continued, or started again."""
        if n and self.resume:
            self.log(f"[laebench] {n} interrupted training(s) continue from their last saved epoch")
        elif n:
            self.log(
                f"[laebench] {n} interrupted training(s) start again from epoch 0: stop now and rerun "
                "with --resume to continue them from their last saved epoch"
            )

    def train(self, plan: Plan, to_train: list[list]) -> tuple[int, int]:
        """Every training layer in order; (models trained by this run, models that failed)."""
        trained_here = failed = 0
        for i, layer in enumerate(to_train):
            runnable = [spec for spec in layer if self.dependencies_ok(spec)]
            if runnable and not self.stop.signal:
                configs = [self.train_config(plan, spec) for spec in runnable]
                self.backend.run_phase(
                    run_train, batches(configs, self.backend.slots()), self.run_dir, f"training layer {i}",
                    self.grid.max_failures, self.stop, self.console,
                )  # fmt: skip
            if self.stop.signal:  # what finished is stored; nothing interrupted counts as failed
                break
            for model in survey_models(layer, self.cache):  # what the layer left in the store
                if model.stored:
                    self.stored.add(model.spec.key)
                    trained_here += model.found.manifest.get("run_id") == self.context.run_id
                else:
                    failed += self.training_failed(model.spec)
        return trained_here, failed

    def train_config(self, plan: Plan, spec) -> dict:
        resources = plan.resources[spec.key]
        return {
            "spec": spec.to_dict(),
            "context": self.context,
            "cpus": resources["cpu"],
            "gpus": resources["gpu"],
        }

    def dependencies_ok(self, spec) -> bool:
        """False (and the failure recorded) when a model `spec` is built on is missing."""
        from methods import get as get_method

        deps = get_method(spec.method).dependencies(spec).values()
        bad = ", ".join(dep.key for dep in deps if dep.key not in self.stored)
        if bad:
            self.cache.record_failure(spec, f"dependency failed: {bad}")
        return not bad

    def training_failed(self, spec) -> bool:
        reason = self.cache.failure(spec) or "no model written (trial crashed)"
        self.log(
            f"[laebench] FAILED model {spec.key}: {reason} "
            f"(log: {log_path(self.run_dir, 'train/' + spec.key)})"
        )
        if self.cache.failure(spec) is None:
            self.cache.record_failure(spec, "trial crashed without writing a model (see its log)")
        return True

    def evaluate(self, plan: Plan, todo: list, document: dict) -> None:
        self.log(
            f"[laebench] evaluations: {len(plan.evals)} planned, {len(plan.evals) - len(todo)} done, "
            f"{len(todo)} to run"
        )
        if not todo:
            return
        experiments, jobs = document["experiments"], {t["trial_id"]: t for t in document["trials"]}
        configs = [
            {
                "job": jobs[job.trial_id],
                "context": self.context,
                "experiment": experiments[job.experiment],
                "cpus": job.resources["cpu"],
                "gpus": job.resources["gpu"],
            }
            for job in todo
        ]
        self.backend.run_phase(
            run_eval, batches(configs, self.backend.slots()), self.run_dir, "evaluations", self.grid.max_failures, self.stop,
            self.console,
        )  # fmt: skip

    def interrupted(self, plan: Plan, left: list, trained_here: int) -> RunSummary:
        markers = [self.cache.folder(spec) / LOCK for spec in plan.models]
        markers += [
            record_path(self.run_dir, job.trial_id).with_suffix(".lock") for job in plan.evals
        ]
        clear_abandoned(markers, self.locks, wait_s=10)  # trials Tune ended inside their lock
        models = survey_models(plan.models, self.cache)
        models_left = sum(not m.stored for m in models)
        return interrupted_summary(
            self.run_dir,
            (len(models), models_left),
            (len(plan.evals), len(left)),
            self.stop,
            trained_here,
        )
