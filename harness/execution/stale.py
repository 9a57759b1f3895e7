"""Models whose code changed since they were trained: named in a run (trained anew), or with `--reuse-stale` kept
(the plan pins their code and their records are marked)."""

from __future__ import annotations

from harness.grid.plan import Plan, make_plan
from harness.grid.schema import Grid
from harness.store.models import ModelCache
from methods.base import UNRECORDED


def stale_models(
    plan: Plan, grid: Grid, choices: dict, cache: ModelCache, reuse_stale: bool, log
) -> Plan:
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
        old = found.manifest.get("code") or "unrecorded"
        log(f"  old {found.folder.name} (code {old}) -> new {key} (the code now)")
    pins = {k: e.manifest.get("code") or UNRECORDED for k, e in stale.items()}
    return make_plan(grid, choices, pins=pins) if reuse_stale else plan
