"""A validated grid as plain dataclasses: `Grid`, its `Experiment`s and their `MethodEntry`s, and the keys each
section accepts."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.grid.spaces import (
    SearchSettings,
    is_space,
)
from methods.base import ModelSpec
from methods.training import DEFAULT_TRAIN

GRID_KEYS = {
    "name",
    "description",
    "seeds",
    "resources",
    "plugins",
    "train",
    "experiments",
    "search",
    "max_failures",
}


EXPERIMENT_KEYS = {
    "name",
    "task",
    "task_params",
    "data",
    "model",
    "methods",
    "train",
    "seeds",
    "resources",
    "search",
    "snapshots",
}


TRAIN_KEYS = set(DEFAULT_TRAIN)


@dataclass
class MethodEntry:
    label: str  # the leaderboard's row name
    key: str  # registered method key
    params: dict
    train: dict | None = (
        None  # the method's own training settings (`methods.<label>.train`), if any
    )
    seeds: list[int] | None = (
        None  # the method's own seeds (`methods.<label>.seeds`), a subset of the experiment's
    )


@dataclass
class Experiment:
    name: str
    task: str
    task_params: dict
    data: dict  # role -> {"name", "classes", "limit"}; role "train" always present
    model: dict
    methods: list[MethodEntry]
    train: dict
    seeds: list[int]
    resources: dict
    search: SearchSettings = field(default_factory=SearchSettings)
    # evaluate each model at these epochs of its training (its snapshots, `train.snapshot_every`), not at its end
    snapshots: list[int] = field(default_factory=list)

    def spec(self, entry: MethodEntry, seed: int, chosen: dict | None = None) -> ModelSpec:
        """The model of `entry` for `seed`; for a search, the `chosen` configuration ({"params", "train"}:
        `is_search` says whether there is one to choose, `harness.execution.search` chooses it)."""
        params, train = (
            (chosen["params"], chosen["train"])
            if chosen
            else (entry.params, entry.train or self.train)
        )
        return ModelSpec(
            method=entry.key,
            params=params,
            data=self.data["train"],
            model=self.model,
            train=train,
            seed=seed,
        )

    def is_search(self, entry: MethodEntry) -> bool:
        return any(
            is_space(v) for v in [*entry.params.values(), *(entry.train or self.train).values()]
        )


@dataclass
class Grid:
    name: str
    seeds: list[int]
    resources: dict
    plugins: list[str]
    train: dict
    experiments: list[Experiment]
    source: str = ""
    raw: dict = field(default_factory=dict)
    max_failures: int = (
        0  # Tune retries of a trial that raised (pre-emptible nodes), before it counts as failed
    )
