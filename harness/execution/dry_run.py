"""`run --dry-run`: the searches, models and evaluation trials a run would do, with what is already done."""

from __future__ import annotations

from pathlib import Path

from harness.execution.search.plan import load_choices, plan_searches
from harness.execution.trials.evaluate import record_is_current
from harness.grid.plan import make_plan
from harness.grid.schema import Grid
from harness.store.models import ModelCache
from harness.store.verify import lock_holder


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
        state = "done" if record_is_current(run_dir, job.to_config(), cache) else "to run"
        lines.append(f"  eval     {job.trial_id:<60} {state}")
    return "\n".join(lines)
