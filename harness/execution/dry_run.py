"""`run --dry-run`: the searches, models and evaluation trials a run would do, with what is already done."""

from __future__ import annotations

from pathlib import Path

from harness.execution.search.plan import load_choices, plan_searches
from harness.grid.plan import make_plan
from harness.grid.schema import Grid
from harness.store.models import ModelCache
from harness.store.progress import survey_plan


def describe(grid: Grid, results: Path) -> str:
    """The plan a run of `grid` on `results` would follow now (searches already stored are applied)."""
    cache = ModelCache(results / "models")
    choices, pending_searches = load_choices(grid, results)
    pending = {s.key for s in pending_searches}
    plan = make_plan(grid, choices)
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
    progress = survey_plan(plan, cache, results / grid.name)
    for i, layer in enumerate(progress.layers):
        for model in layer:
            spec, found = model.spec, model.found
            state = {"ok": "cached", "missing": "to train"}.get(
                found.status, f"to retrain ({found.reason})"
            )
            state += f", being trained now by {model.holder}" if model.holder else ""
            state += ", stored from earlier code (--reuse-stale uses it)" if model.stale else ""
            lines.append(
                f"  train[{i}] {spec.key:<28} {spec.data.get('name', ''):<13} seed={spec.seed}  {state}"
            )
    left = {job.trial_id for job in progress.evals_left}
    for job in plan.evals:
        state = "to run" if job.trial_id in left else "done"
        lines.append(f"  eval     {job.trial_id:<60} {state}")
    return "\n".join(lines)
