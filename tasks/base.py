"""The task interface: an evaluation that consumes only what `Method.sample` returns.

A `Task` is built from its validated parameters (`default_params` lists them). `jobs(methods, seeds)`
enumerates its trials (default: one per method label and seed; a task that benchmarks code rather
than a trained model sets `needs_model = False` and enumerates its own points). `evaluate(ctx)` runs
one trial and returns metric rows `{"metric": str, "value": float}`; `direction(metric)` says
whether higher ("max") or lower ("min") is better, for the leaderboard's best-value marks.
Artifacts (plots, per-input CSVs) go to `ctx.artifact_dir`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from laebench.params import Param, Parameterised


@dataclass(frozen=True)
class Job:
    """One evaluation trial of a task: a method label (or a benchmark point's name), a seed, a point."""

    label: str
    seed: int
    point: tuple = ()  # sorted (key, value) pairs, hashable

    @property
    def point_dict(self) -> dict:
        return dict(self.point)


@dataclass
class EvalContext:
    """What a task's `evaluate` gets for one trial."""

    experiment: str
    method_label: str
    method: Any  # a fitted methods.Method, or None when the task needs no model
    data: Any  # harness.datasets.Dataset of the experiment's `data.train` (use its test split)
    extra_data: dict[str, Any]  # the experiment's other data roles, e.g. {"ood": Dataset}
    point: dict
    seed: int
    device: torch.device
    artifact_dir: Path
    aux_model: Callable[..., Any] = (
        None  # harness.store.models.ModelCache.get_or_train for task-owned models
    )
    model_config: dict = field(default_factory=dict)
    train_config: dict = field(default_factory=dict)
    # (name, identity, compute) -> value: a per-model result kept next to the model (ModelCache.derived); None:
    # computed every time
    memo: Callable[[str, dict, Callable[[], Any]], Any] | None = None

    def remember(self, name: str, identity: dict, compute: Callable[[], Any]) -> Any:
        """`compute()`, or its stored value when this model already computed it for the same `identity` (JSON:
        plain numbers, lists, dicts). For results that depend on the model and `identity` only."""
        return compute() if self.memo is None else self.memo(name, identity, compute)


def sampling_params(n_samples: int, batch_size: int) -> dict[str, Param]:
    """The parameters of tasks that sample networks over batches of test images."""
    return {
        "n_samples": Param(
            n_samples, "Networks (or draws) sampled per test batch.", kind="int", low=1
        ),
        "batch_size": Param(batch_size, "Test images per batch.", kind="int", low=1),
        "max_test": Param(
            None,
            "Use the first this many test images; null: all.",
            kind="int",
            low=1,
            nullable=True,
        ),
    }


def sample_all(method, x: torch.Tensor, n: int, *, seed: int, batch_size: int, decode: bool = True):
    """The method's samples of every batch of x, from the same n networks (`Method.sample_all`); for an object
    that only has `sample` (the one call a task may rely on), `sample` per batch with the same seed. A method
    that is not `stochastic` is sampled once: its n samples would be identical."""
    n = n if getattr(method, "stochastic", True) else 1
    if hasattr(method, "sample_all"):
        return method.sample_all(x, n, seed=seed, batch_size=batch_size, decode=decode)
    return (
        method.sample(x[i : i + batch_size], n, seed=seed) for i in range(0, len(x), batch_size)
    )


class Task(Parameterised):
    """Base class of evaluations. Subclass, declare `param_spec` (or set `default_params`), implement `evaluate`.
    `key`, `description`, `param_spec` and `validate_params`: `laebench.params.Parameterised`."""

    kind = "task"
    needs_model: bool = True
    data_roles: tuple[str, ...] = ()  # extra datasets the experiment must name under `data:`
    directions: dict[str, str] = {}  # metric glob -> "max" | "min"
    headline: tuple[str, ...] = ()  # the metric a run's summary shows (the first one present)

    def __init__(self, params: dict | None = None):
        self.params = self.validate_params(params or {})

    def check_data(self, data: dict) -> str:
        """'' when the task's parameters fit the experiment's datasets (`{role: Dataset}`, role "train" and the
        task's `data_roles`), else a one-line reason with the fix; run before Ray starts. Default: ''."""
        return ""

    def jobs(self, method_labels: list[str], seeds: list[int]) -> list[Job]:
        return [Job(label, seed) for label in method_labels for seed in seeds]

    def evaluate(self, ctx: EvalContext) -> list[dict]:
        raise NotImplementedError

    def summarize(self, raw, artifact_dir: Path | None) -> list[dict]:
        """Rows computed across an experiment's trials (e.g. scaling slopes), for the leaderboard.

        `raw` is the experiment's part of `raw.csv` (a DataFrame); return `{"method", "metric", "value"}`
        dicts. `artifact_dir` is where a plot or table may be written (None: write nothing). Default: none.
        """
        return []

    @classmethod
    def direction(cls, metric: str) -> str | None:
        for pattern, direction in cls.directions.items():
            if fnmatch.fnmatch(metric, pattern):
                return direction
        return None
