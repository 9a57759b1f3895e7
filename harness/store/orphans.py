"""What the current plans of a results folder need, and what nothing needs any more (orphans).

Each grid folder's `plan.json` (written by its latest run) lists the keys of its models, dependencies included
(`model_keys`; older plans: computed from `models` where the methods are registered here), and its trials with
their config hashes. An orphan is what no current plan lists: a model folder left by an earlier version of a
grid (a method fixed since, a seed dropped), a trial record of a trial since removed or changed, or a temporary
file whose writer is gone. `verify` lists orphans apart from what the plans need; `python -m harness gc DIR`
lists them with their sizes and removes them with `--yes`. Task-owned models (`kind: aux`, e.g. the imputation
classifier) are never orphans: no plan lists them. When a grid folder has no readable plan, or a plan's model keys
cannot be told, no model is called an orphan (`PlanNeeds.unknown` says why).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.store.files import DamagedFileError
from harness.store.layout import MANIFEST
from harness.store.records import read_plan, trial_hashes
from harness.store.verify import lock_holder
from methods.base import ModelSpec

TEMP_AGE_S = 600  # a temporary file older than this whose writer's pid is gone here is left by a killed write


@dataclass
class PlanNeeds:
    models: set[str] | None = (
        None  # keys of the models the plans need; None: cannot be told (`unknown`)
    )
    trials: dict[str, dict[str, str]] = field(default_factory=dict)  # grid -> trial id -> hash
    unknown: str = ""


@dataclass
class Orphan:
    path: Path
    kind: str  # model | record | partial
    size: int  # bytes (a model folder: all its files)
    why: str


def grid_folders(results: Path) -> list[Path]:
    """The grid folders of a results folder: those holding trial records or a plan."""
    if not results.is_dir():
        return []
    return sorted(
        p for p in results.iterdir() if (p / "trials").is_dir() or (p / "plan.json").is_file()
    )


def plan_needs(results: Path) -> PlanNeeds:
    """The models and trials that the current plans of `results`' grid folders need."""
    needs, keys = PlanNeeds(), set()
    grids = grid_folders(results)
    if not grids:
        needs.unknown = f"{results} holds no grid folder with a plan.json"
    for run_dir in grids:
        try:
            plan = read_plan(run_dir)
        except DamagedFileError as exc:
            needs.unknown = needs.unknown or str(exc)
            continue
        if plan is None:
            needs.unknown = needs.unknown or f"{run_dir / 'plan.json'} is missing"
            continue
        try:
            needs.trials[run_dir.name] = trial_hashes(plan["trials"])
        except (KeyError, TypeError) as exc:
            needs.unknown = needs.unknown or f"{run_dir / 'plan.json'}: damaged plan (no {exc})"
            continue
        try:
            keys |= _model_keys(plan)
        except (KeyError, TypeError, ValueError) as exc:
            detail = " ".join(str(exc).split())[:160]
            needs.unknown = needs.unknown or f"{run_dir / 'plan.json'}: models unknown ({detail})"
    needs.models = None if needs.unknown else keys
    return needs


def _model_keys(plan: dict) -> set[str]:
    if isinstance(plan.get("model_keys"), list):
        return {str(k) for k in plan["model_keys"]}
    return {ModelSpec(**spec).key for layer in plan.get("models", []) for spec in layer}


def find_orphans(results: Path, needs: PlanNeeds) -> list[Orphan]:
    """Model folders and records no current plan needs, and temporary files left by killed writes."""
    found = []
    models = results / "models"
    for folder in sorted(models.iterdir()) if models.is_dir() else []:
        if not folder.is_dir():
            continue
        if needs.models is not None and folder.name not in needs.models and not _task_owned(folder):
            found.append(Orphan(folder, "model", _size(folder), "no current plan uses it"))
        else:
            found += _temp_files(folder)
    for run_dir in grid_folders(results):
        current = needs.trials.get(run_dir.name)
        for path in sorted((run_dir / "trials").glob("*.json")) if current is not None else []:
            why = _record_orphan(path, current)
            if why:
                found.append(Orphan(path, "record", path.stat().st_size, why))
        found += _temp_files(run_dir / "trials")
    return found


def _record_orphan(path: Path, current: dict[str, str]) -> str:
    try:
        record = json.loads(path.read_text())
        trial, chash = record["trial_id"], record.get("config_hash", "")
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        return ""  # a damaged record: `verify` lists it to rerun
    if trial not in current:
        return "its trial is not in the current plan"
    return "" if current[trial] == chash else "made with other settings than the current plan's"


def _task_owned(folder: Path) -> bool:
    try:
        return json.loads((folder / MANIFEST).read_text()).get("kind") == "aux"
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return (folder / "identity.json").exists()


def _temp_files(folder: Path) -> list[Orphan]:
    """`.<name>.<pid>.<token>.tmp` files (`write_atomic`) whose writer is gone and that are old."""
    found = []
    for path in sorted(folder.glob(".*.tmp")) if folder.is_dir() else []:
        parts = path.name.split(".")
        pid = parts[-3] if len(parts) >= 4 else ""
        st = path.stat()
        if time.time() - st.st_mtime > TEMP_AGE_S and not _alive(pid):
            found.append(Orphan(path, "partial", st.st_size, "left by an interrupted write"))
    return found


def _alive(pid: str) -> bool:
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def remove_orphans(orphans: list[Orphan], log=print) -> int:
    """Remove `orphans` (a model folder whose lock a live trainer holds is left, and named); returns the bytes
    freed."""
    freed = 0
    for orphan in orphans:
        if orphan.kind == "model" and (holder := lock_holder(orphan.path)):
            log(f"  kept {orphan.path}: being trained now by {holder}")
            continue
        if orphan.path.is_dir():
            shutil.rmtree(orphan.path)
        else:
            orphan.path.unlink(missing_ok=True)
        freed += orphan.size
    return freed
