"""Which searches a grid asks for and what stored searches chose: one `Search` per distinct (searched model,
settings) (`plan_searches`), and the configurations their summaries hold, by (experiment, label, seed)
(`load_choices`), an input of `harness.grid.plan.make_plan`."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from harness.grid.schema import Grid
from harness.grid.spaces import SearchSettings, concrete, is_space
from harness.store.searches import load_summary
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
                "search": search_record(summary),
            }
    return choices, pending


def search_record(summary: dict) -> dict:
    """What an evaluation record keeps of its model's search (the leaderboard shows it)."""
    return {
        k: summary[k]
        for k in ("key", "metric", "mode", "best", "trials", "finished", "stopped_early", "failed")
    }
