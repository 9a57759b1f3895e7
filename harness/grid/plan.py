"""From a validated grid to trials: model trainings (in dependency layers) and evaluation jobs.

Every model is a `ModelSpec`; specs shared by several experiments or methods (an `ae` that is also
an ensemble member or the base of a post-hoc Laplace) collapse to one training. Evaluation jobs come
from each task's `jobs(...)`; their `trial_id` names the result file, so finished ones are skipped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

from harness.grid.schema import Grid
from harness.store.records import NOT_RESULT_FIELDS
from laebench.fingerprint import fingerprint
from methods import get as get_method
from methods.base import ModelSpec
from tasks import get as get_task


@dataclass
class EvalJob:
    trial_id: str
    experiment: str
    task: str
    label: str
    seed: int
    point: dict
    spec: ModelSpec | None
    resources: dict
    config_hash: str
    chosen: dict | None = None  # a searched method's chosen configuration for this seed

    def to_config(self) -> dict:
        return {
            "trial_id": self.trial_id,
            "experiment": self.experiment,
            "task": self.task,
            "label": self.label,
            "seed": self.seed,
            "point": self.point,
            "spec": self.spec.to_dict() if self.spec else None,
            "config_hash": self.config_hash,
            "chosen": self.chosen,
        }


@dataclass
class Plan:
    train_layers: list[list[ModelSpec]] = field(default_factory=list)
    resources: dict[str, dict] = field(default_factory=dict)  # spec key -> resources
    evals: list[EvalJob] = field(default_factory=list)
    # evaluations of searched methods whose configuration is not chosen yet (`harness.execution.search`): no model yet
    unsearched: list[EvalJob] = field(default_factory=list)

    @property
    def models(self) -> list[ModelSpec]:
        return [s for layer in self.train_layers for s in layer]


def config_hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _hashed_entry(entry, chosen) -> dict:
    """What of a method's entry a trial's hash covers: all but its own `seeds`, which say which trials exist, not
    what one computes (hashed as None, the value of an entry without them: adding a seed re-runs no done trial)."""
    return {**dataclasses.asdict(entry), "seeds": None, "chosen": chosen}


def _points(job, exp) -> list[tuple]:
    """The job's point, or, for a model's evaluation in an experiment with `snapshots`, one point per epoch."""
    if exp is None or not exp.snapshots:
        return [job.point]
    return [tuple(sorted((*job.point, ("epoch", e)))) for e in exp.snapshots]


def _eval_job(exp, job, point: tuple, spec, chosen, settings, method, code) -> EvalJob:
    chash = config_hash(
        {**settings, "seed": job.seed, "point": point, "method": method, "code": code}
    )
    point_tag = "".join(f"/{k}={v}" for k, v in point)
    return EvalJob(
        trial_id=f"{exp.name}/{job.label}/seed{job.seed}{point_tag}",
        experiment=exp.name,
        task=exp.task,
        label=job.label,
        seed=job.seed,
        point=dict(point),
        spec=spec,
        resources=exp.resources,
        config_hash=chash,
        chosen=chosen,
    )


def make_plan(grid: Grid, choices: dict | None = None, pins: dict[str, str] | None = None) -> Plan:
    """The grid's trainings and evaluations, computed from the validated grid and, as inputs, the searches'
    `choices` ((experiment, label, seed) -> {"params", "train", "search"}; `harness.execution.search`) and
    `pins` (model key -> code fingerprint: a model of the same configuration trained by earlier code, used as
    stored with `run --reuse-stale`, so the models it was built on are not needed). A trial's hash covers every
    field of its experiment but `NOT_RESULT_FIELDS`, its method entry and choice, seed, point and code."""
    plan = Plan()
    depth: dict[str, int] = {}
    specs: dict[str, ModelSpec] = {}
    pins, choices = pins or {}, choices or {}

    def visit(spec: ModelSpec, resources: dict) -> int:
        if spec.key in depth:
            return depth[spec.key]
        deps = {} if spec.code else get_method(spec.method).dependencies(spec)
        d = 1 + max((visit(dep, resources) for dep in deps.values()), default=-1)
        depth[spec.key], specs[spec.key] = d, spec
        plan.resources.setdefault(spec.key, resources)
        return d

    for exp in grid.experiments:
        task = get_task(exp.task)(exp.task_params)
        entries = {m.label: m for m in exp.methods}
        for job in task.jobs(list(entries), exp.seeds):
            # What determines this trial's result: a changed setting re-runs it, another method's does not.
            entry = entries.get(job.label)
            if entry is not None and entry.seeds is not None and job.seed not in entry.seeds:
                continue  # the method's own seeds (`methods.<label>.seeds`)
            chosen = choices.get((exp.name, job.label, job.seed))
            method = _hashed_entry(entry, chosen) if entry else job.label
            spec, target = None, plan.evals
            if task.needs_model and exp.is_search(entry) and chosen is None:
                target = plan.unsearched
            elif task.needs_model:
                spec = exp.spec(entries[job.label], job.seed, chosen)
                spec = spec.replace(code=pins[spec.key]) if spec.key in pins else spec
                visit(spec, exp.resources)
            # the code too: a fix in the task's or the model's code re-runs the trial (laebench.fingerprint)
            code = {
                "task": fingerprint(type(task)),
                "model": spec.code_fingerprint if spec else "",
                "stale": bool(spec and spec.code),
            }  # a model kept by --reuse-stale: its record is marked
            settings = {
                k: v for k, v in dataclasses.asdict(exp).items() if k not in NOT_RESULT_FIELDS
            }
            for point in _points(job, exp if spec is not None else None):
                target.append(_eval_job(exp, job, point, spec, chosen, settings, method, code))
    n_layers = 1 + max(depth.values(), default=-1)
    # seed by seed, in the grid's order within a seed: a run stopped part-way has whole seeds
    order = {k: n for n, k in enumerate(specs)}
    plan.train_layers = [
        sorted((specs[k] for k in specs if depth[k] == i), key=lambda s: (s.seed, order[s.key]))
        for i in range(n_layers)
    ]
    return plan


def serialise(plan: Plan, grid: Grid) -> dict:
    """The plan's one serialised form: written to `<run_dir>/plan.json`, and the source of every evaluation
    trial's config (its job and its validated experiment), so the file and the trials cannot disagree."""
    return {
        "grid": grid.name,
        "source": grid.source,
        "plugins": grid.plugins,
        "experiments": {e.name: dataclasses.asdict(e) for e in grid.experiments},
        "models": [[spec.to_dict() for spec in layer] for layer in plan.train_layers],
        "trials": [job.to_config() for job in [*plan.evals, *plan.unsearched]],
    }
