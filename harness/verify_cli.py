"""`python -m harness verify DIR` and `python -m harness gc DIR [--yes]`.

`verify` prints what the current plans of a results folder need and a rerun would retrain, rerun, run or search
again, one line each (exit 1 when anything), then the orphans apart (they change no exit code). `gc` lists the
orphans (models, records, temporary files) with their sizes and removes them only with `--yes`. Neither imports
code a folder names: `--plugins` (looked up in the working directory) is how a plugin's code gets checked.
"""

from __future__ import annotations

from pathlib import Path


def verify_command(results: Path) -> int:
    """`python -m harness verify DIR`: what a rerun would redo, one line each; orphans apart."""
    from harness.store.searches import stored_summaries
    from harness.store.survey import verify_store
    from harness.store.verify import lock_holder

    _check_folder(results)
    found = verify_store(results)
    if not found.entries and not found.records and not found.orphans and not found.to_run:
        raise ValueError(
            f"{results} holds no model entries or trial records. Pass a results folder (the "
            f"--results of a run) or its models/ folder."
        )
    bad, untrained = found.bad, found.to_train
    print(
        f"models: {len(found.entries) + len(untrained)} {'entries' if found.unknown else 'needed'}, "
        f"{len(found.entries) - len(bad)} verified, {len(bad)} to retrain"
        + (f", {len(untrained)} to train" if untrained else "")
    )
    for key in untrained:
        print(f"  train {key}: not trained yet")
    for e in bad:
        holder = lock_holder(e.folder)
        print(
            f"  retrain {e.folder.name}: {e.reason or 'no model written yet'}"
            + (f" (being trained now by {holder})" if holder else "")
        )
    if found.stale:
        print(
            f"  {len(found.stale)} verified model(s) whose code changed since they were trained (a run "
            f"trains their configuration anew; --reuse-stale keeps them):"
        )
    for key, why in found.stale:
        print(f"  code changed since: {key}: {why}")
    if found.unchecked:
        print(
            f"  code not checked for {len(found.unchecked)} model(s) of methods not registered here "
            f"(pass --plugins to check them)"
        )
    for path, why in found.damaged:
        print(f"  damaged {path}: {why}")
    print(
        f"evaluations: {found.records} record(s), {len(found.reruns)} to rerun, "
        f"{len(found.to_run)} planned without a record"
    )
    for trial, why in found.reruns:
        print(f"  rerun {trial}: {why}")
    for trial in found.to_run:
        print(f"  run {trial}: no record yet")
    failed = _searches(stored_summaries(results))
    _orphan_lines(found)
    return 0 if found.whole and not failed else 1


def _searches(searches: list[dict]) -> list[dict]:
    failed = [s for s in searches if s["status"] != "ok"]
    if searches:
        print(f"searches: {len(searches)} stored, {len(failed)} to search again")
    for s in failed:
        print(f"  search again {s.get('key', '?')}: {s['status']}: {s.get('error', '')}")
    return failed


def _orphan_lines(found) -> None:
    if found.unknown:
        print(f"orphaned models: not told ({found.unknown}); every model above counts as needed")
    if found.orphans:
        total = sum(o.size for o in found.orphans)
        print(
            f"orphans: {len(found.orphans)} ({_size(total)}) no current plan needs; `python -m harness "
            f"gc DIR` lists them, `gc DIR --yes` removes them:"
        )
    for o in found.orphans:
        print(f"  orphan {o.kind} {o.path} ({_size(o.size)}): {o.why}")


def gc_command(results: Path, remove: bool) -> int:
    """`python -m harness gc DIR [--yes]`: the orphans with their sizes; removed only with `--yes`."""
    from harness.store.orphans import find_orphans, grid_folders, plan_needs, remove_orphans

    _check_folder(results)
    if not (results / "models").is_dir() and not grid_folders(results):
        raise ValueError(
            f"{results} holds no models/ folder and no grid folder. Pass a results folder (the --results "
            f"of a run), not one grid's folder or a models/ folder."
        )
    needs = plan_needs(results)
    orphans = find_orphans(results, needs)
    if needs.unknown:
        print(f"orphaned models: not told ({needs.unknown}); no model is listed")
    total = sum(o.size for o in orphans)
    print(f"orphans: {len(orphans)} ({_size(total)})")
    for o in orphans:
        print(f"  {o.kind} {o.path} ({_size(o.size)}): {o.why}")
    if not orphans:
        return 0
    if not remove:
        print(f"nothing removed; `python -m harness gc {results} --yes` removes them")
        return 0
    freed = remove_orphans(orphans)
    print(f"removed: {_size(freed)}")
    return 0


def _check_folder(results: Path) -> None:
    if not results.is_dir():
        raise ValueError(
            f"{results} is not a folder. Pass a results folder (the --results of a run)."
        )


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"
