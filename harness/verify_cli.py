"""`python -m harness verify DIR`: what a rerun of a results folder would retrain, rerun or search again, one
line each (exit 1 when anything), with the plugins its grids recorded imported first."""

from __future__ import annotations

import json
from pathlib import Path


def _verify(results: Path) -> int:
    """`python -m harness verify DIR`: what a rerun would retrain or rerun, one line each."""
    from harness.execution.search import stored_summaries
    from harness.store.verify import lock_holder, verify_store

    if not results.is_dir():
        raise ValueError(
            f"{results} is not a folder. Pass a results folder (the --results of a run)."
        )
    import_recorded_plugins(results)
    entries, reruns, leftovers, stale = verify_store(results)
    if not entries and not reruns:
        raise ValueError(
            f"{results} holds no model entries or trial records. Pass a results folder (the "
            f"--results of a run) or its models/ folder."
        )
    bad = [e for e in entries if not e.ok]
    print(
        f"models: {len(entries)} entries, {len(entries) - len(bad)} verified, {len(bad)} to retrain"
    )
    for e in bad:
        holder = lock_holder(e.folder)
        print(
            f"  retrain {e.folder.name}: {e.reason or 'no model written yet'}"
            + (f" (being trained now by {holder})" if holder else "")
        )
    if stale:
        print(
            f"  {len(stale)} verified model(s) whose code changed since they were trained (a run trains their "
            f"configuration anew; --reuse-stale keeps them):"
        )
    for key, why in stale:
        print(f"  code changed since: {key}: {why}")
    if leftovers:
        print(
            f"  ({leftovers} temporary file(s) left by interrupted writes; removed when their model is retrained)"
        )
    print(f"evaluations: {len(reruns)} record(s) to rerun")
    for trial, why in reruns:
        print(f"  rerun {trial}: {why}")
    searches = stored_summaries(results)
    failed = [s for s in searches if s["status"] != "ok"]
    if searches:
        print(f"searches: {len(searches)} stored, {len(failed)} to search again")
    for s in failed:
        print(f"  search again {s.get('key', '?')}: {s['status']}: {s.get('error', '')}")
    return 1 if bad or reruns or failed or stale else 0


def import_recorded_plugins(results: Path, only: str | None = None) -> None:
    """The plugins of every grid in a results folder (`<grid>/plan.json`; of grid `only` when given), so their
    methods and tasks can be checked and reported too; a plugin that no longer imports is named, and the
    command goes on without it."""
    from harness.grid.plugins import import_plugins

    for plan in sorted(results.glob(f"{only or '*'}/plan.json")):
        try:
            doc = json.loads(plan.read_text())
            import_plugins(doc.get("plugins") or [], doc.get("plugin_paths") or [])
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            print(
                f"  (plugins of {plan.parent.name} not imported: {' '.join(str(exc).split())[:200]})"
            )
