"""Contract checks for tasks (scikit-learn's `check_estimator`, for `tasks.Task`), and the tiny settings they use.

`check_task(cls, data)` checks a registered task class: registration, parameter validation, `jobs`, and one
evaluation on `data` (e.g. `harness.datasets.load_dataset("synthetic")`) with a tiny fitted `ae`: well-formed metric
rows, each with a direction, the same values for the same seed (tasks that time code, `needs_model = False`,
are exempt), and a `summarize` that returns rows. `evaluate_tiny(cls, method, data)` runs one task with the
tiny settings `TINY_PARAMS` (built-in tasks) or `cls.check_params` (a plugin task may set it);
`check_method_in_tasks(cls)` runs `methods.testing.check_method` (the method contract) and then the fitted method
through every task that evaluates a model. Every extra data role a task
declares (`data_roles`, e.g. "ood") gets `data` itself.
"""

from __future__ import annotations

import json
import math
import tempfile
from numbers import Real
from pathlib import Path

import torch

from laebench.contracts import check_registered_class, require
from laebench.datasets import synthetic
from methods.testing import check_method

from .base import EvalContext, Job, Task
from .registry import TASKS

TINY_PARAMS = {
    "reconstruction": {"n_samples": 3, "max_test": 32},
    "imputation": {
        "max_test": 16,
        "batch_size": 16,
        "n_first": 2,
        "n_refine": 2,
        "n_iterations": 2,
        "classifier_epochs": 1,
    },
    "knn": {
        "labels_per_class": [1, 2],
        "repetitions": 1,
        "n_embed": 2,
        "max_eval": 48,
        "k_grid": [1, 3],
        "batch_size": 48,
    },
    "ood": {"n_samples": 3, "max_test": 32, "typicality_train": 64},
    "hessian_quality": {"n_samples": 3, "max_test": 32},
    "hessian_scaling": {
        "modes": ["approx"],
        "sides": [8, 12],
        "repeats": 1,
        "time_budget": 120.0,
        "memory_budget_gb": 2.0,
        "fit_min_side": 8,
    },
}
_AUX: dict[
    str, torch.nn.Module
] = {}  # task-owned models (imputation's classifier), trained once per process


def _aux_model(name: str, identity: dict, build, train, device="cpu") -> torch.nn.Module:
    """In-memory stand-in for `harness.store.models.ModelCache.get_or_train` (same signature)."""
    key = name + json.dumps(identity, sort_keys=True, default=str)
    if key not in _AUX:
        module = build().to(device)
        train(module)
        _AUX[key] = module.eval()
    return _AUX[key]


def tiny_params(cls: type[Task]) -> dict:
    return dict(getattr(cls, "check_params", None) or TINY_PARAMS.get(cls.key, {}))


def evaluate_tiny(
    cls: type[Task],
    method,
    data,
    *,
    seed: int = 0,
    params: dict | None = None,
    artifact_dir: Path | None = None,
    job: Job | None = None,
) -> list[dict]:
    """One evaluation of task `cls` with tiny settings: of `method` (a fitted `Method`), or of the task's first
    own job when it needs no model. Returns the metric rows after checking their form."""
    task = cls(tiny_params(cls) if params is None else params)
    if job is None:
        job = (
            Job(getattr(method, "key", "method"), seed)
            if cls.needs_model
            else task.jobs([], [seed])[0]
        )
    with tempfile.TemporaryDirectory() as tmp:
        ctx = EvalContext(
            experiment="check",
            method_label=job.label,
            method=method if cls.needs_model else None,
            data=data,
            extra_data={role: data for role in cls.data_roles},
            point=job.point_dict,
            seed=job.seed,
            device=getattr(method, "device", torch.device("cpu")),
            artifact_dir=artifact_dir or Path(tmp) / "artifacts",
            aux_model=_aux_model,
        )
        rows = task.evaluate(ctx)
    return check_rows(cls, rows)


def check_rows(cls: type[Task], rows) -> list[dict]:
    """`evaluate`'s result: a non-empty list of {"metric": unique str, "value": real number}, some finite."""
    where = f"task '{cls.key}'"
    require(
        isinstance(rows, list) and rows,
        f"{where}: evaluate must return a non-empty list of rows. Got {rows!r}.",
    )
    for row in rows:
        require(
            isinstance(row, dict) and isinstance(row.get("metric"), str) and row["metric"],
            f"{where}: every row needs a non-empty string 'metric'. Got {row!r}.",
        )
        require(
            isinstance(row.get("value"), Real) and not isinstance(row["value"], bool),
            f"{where}: metric {row['metric']!r} needs a real 'value'. Got {row.get('value')!r}.",
        )
    metrics = [r["metric"] for r in rows]
    require(len(set(metrics)) == len(metrics), f"{where}: metric names repeat: {metrics}.")
    require(any(math.isfinite(r["value"]) for r in rows), f"{where}: no finite value in {rows}.")
    return rows


def check_task(cls: type[Task], data=None, *, method=None, params: dict | None = None) -> None:
    """Check a registered task class against the `Task` contract; raises AssertionError naming what fails.

    Args:
        cls: the task class (registered with `tasks.register`).
        data: a `harness.datasets.Dataset` to evaluate on (default: the tiny generated `synthetic` set).
        method: a fitted `Method` to evaluate; default: a tiny `ae` trained for one epoch on `data`.
        params: task parameters; default `tiny_params(cls)`.
    """
    where = check_registered_class(cls, Task, TASKS)
    if data is None:
        data = synthetic()  # generated: no files, no network
    jobs = cls(params if params is not None else tiny_params(cls)).jobs(["m1", "m2"], [0, 1])
    require(
        jobs and all(isinstance(j, Job) for j in jobs),
        f"{where}: jobs must return a non-empty list of Job.",
    )
    if cls.needs_model:
        require(
            {j.label for j in jobs} == {"m1", "m2"}, f"{where}: jobs must cover every method label."
        )
    if method is None and cls.needs_model:
        method = _tiny_ae(data)
    rows = evaluate_tiny(cls, method, data, params=params)
    undirected = [r["metric"] for r in rows if cls.direction(r["metric"]) not in ("max", "min")]
    require(
        not undirected,
        f"{where}: metrics without a direction ('max' / 'min' in `directions`): {undirected}.",
    )
    if cls.needs_model:  # timings (tasks that benchmark code) are not reproducible
        again = evaluate_tiny(cls, method, data, params=params)
        require(_values(again) == _values(rows), f"{where}: two evaluations with one seed differ.")
    import pandas as pd

    label = method.key if cls.needs_model else jobs[0].label
    raw = pd.DataFrame(
        [
            {
                "experiment": "check",
                "task": cls.key,
                "method": label,
                "seed": 0,
                "status": "ok",
                **r,
            }
            for r in rows
        ]
    )
    with tempfile.TemporaryDirectory() as tmp:
        summary = cls(params if params is not None else tiny_params(cls)).summarize(raw, Path(tmp))
    require(isinstance(summary, list), f"{where}: summarize must return a list of rows.")


def _values(rows: list[dict]) -> dict:
    return {r["metric"]: (None if math.isnan(r["value"]) else r["value"]) for r in rows}


def _tiny_ae(data):
    from methods.base import ModelSpec
    from methods.tiny import TINY_MODEL, TINY_TRAIN, fit_tiny

    return fit_tiny(ModelSpec("ae", {}, {"name": data.name}, TINY_MODEL, TINY_TRAIN, 0), data)


def check_method_in_tasks(cls, data=None, *, tasks: list[str] | None = None, **kwargs) -> None:
    """`methods.testing.check_method(cls, data, **kwargs)`, then the fitted model through every task.

    Args:
        cls: the method class (registered with `methods.register`).
        data: the dataset to train and evaluate on (default: the generated `synthetic` set).
        tasks: task keys to run (default: every registered task that evaluates a model).
        **kwargs: `params`, `model`, `train`, `n`, as `check_method` takes them.
    """
    if data is None:
        data = synthetic()
    method = check_method(cls, data, **kwargs)
    where = f"method '{cls.key}'"
    keys = tasks if tasks is not None else [k for k in TASKS.names() if TASKS.get(k).needs_model]
    for key in keys:
        try:
            evaluate_tiny(TASKS.get(key), method, data)
        except AssertionError as err:
            raise AssertionError(f"{where} in task '{key}': {err}") from err
        except Exception as err:
            raise AssertionError(
                f"{where} fails in task '{key}': {type(err).__name__}: {err}"
            ) from err
