"""What `python -m harness verify DIR` finds in a results folder, in two parts.

What the current plans need (`harness.store.orphans.plan_needs`): each model entry (`inspect_folder`), its derived
results (`harness.store.derived.check_derived`) and snapshots (`harness.store.snapshots.check_snapshots`), each
trial record of a current trial, and each planned model or trial without a folder or record. `Findings.whole` is True when none of
it needs redoing. What nothing needs: orphans, listed apart (`find_orphans`), whatever state they are in. Reading
a folder imports nothing it names: a plugin's method or task is checked only when the caller imported it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.store.derived import check_derived
from harness.store.files import DamagedFileError
from harness.store.layout import Entry
from harness.store.orphans import Orphan, find_orphans, grid_folders, plan_needs
from harness.store.records import read_record, record_path
from harness.store.snapshots import check_snapshots, snapshot_sha256
from harness.store.verify import code_change, inspect_folder, looks_like_entry, record_code_change


@dataclass
class Findings:
    entries: list[Entry] = field(
        default_factory=list
    )  # model folders the plans need (all: unknown)
    stale: list[tuple[str, str]] = field(default_factory=list)  # needed models of changed code
    unchecked: list[str] = field(
        default_factory=list
    )  # needed models whose method is not registered
    damaged: list[tuple[Path, str]] = field(default_factory=list)  # derived results, snapshots
    reruns: list[tuple[str, str]] = field(default_factory=list)  # (grid/trial, why)
    to_run: list[str] = field(default_factory=list)  # planned trials without a record
    to_train: list[str] = field(default_factory=list)  # planned models without a folder
    records: int = 0  # records of current trials
    orphans: list[Orphan] = field(default_factory=list)
    unknown: str = ""  # why orphaned models cannot be told ('' when they can)

    @property
    def bad(self) -> list[Entry]:
        return [e for e in self.entries if not e.ok]

    @property
    def whole(self) -> bool:
        return not (
            self.bad or self.stale or self.damaged or self.reruns or self.to_run or self.to_train
        )


def verify_store(results: Path) -> Findings:
    """Check `results` (a results folder, or its models/ folder): see the module's docstring."""
    models = results / "models" if (results / "models").is_dir() else results
    needs = plan_needs(results)
    found = Findings(unknown=needs.unknown, orphans=find_orphans(results, needs))
    orphaned = {o.path for o in found.orphans}
    folders = sorted(models.iterdir()) if models.is_dir() else []
    for folder in folders:
        if folder.is_dir() and folder not in orphaned and looks_like_entry(folder):
            entry = inspect_folder(folder)
            found.entries.append(entry)
            why = code_change(entry)
            if why is None:
                found.unchecked.append(folder.name)
            elif why:
                found.stale.append((folder.name, why))
            found.damaged += check_derived(folder) + check_snapshots(folder)
    present = {e.folder.name for e in found.entries}
    found.to_train = sorted((needs.models or set()) - present)
    sha_of = {e.folder.name: (e.manifest["sha256"], e.folder) for e in found.entries if e.ok}
    stale_keys = {key for key, _ in found.stale}
    for run_dir in grid_folders(results):
        current = needs.trials.get(run_dir.name)
        for path in sorted((run_dir / "trials").glob("*.json")):
            if path in orphaned:
                continue
            found.records += 1
            why = _record_problem(path, sha_of, stale_keys)
            if why:
                found.reruns.append((f"{run_dir.name}/{why[0]}", why[1]))
        for trial in current or {}:
            if not record_path(run_dir, trial).exists():
                found.to_run.append(f"{run_dir.name}/{trial}")
    return found


def _record_problem(path: Path, sha_of: dict, stale_keys: set) -> tuple[str, str] | None:
    """(trial, why a rerun redoes it), or None when the record stands; `sha_of`: key -> (sha256, folder) of
    each verified model."""
    try:
        record = read_record(path)
    except DamagedFileError:
        return path.name, "unreadable record"
    trial, key = record.trial_id, record.model_key
    if not record.ok:
        return trial, f"failed: {record.error}"
    sha, folder = sha_of.get(key, (None, None))
    epoch = (record.point or {}).get("epoch")  # an evaluation of a snapshot: its bytes
    if epoch is not None and folder is not None:
        sha = snapshot_sha256(folder, epoch)
    if key and record.model_sha256 != sha:
        return trial, (
            "its model is not usable" if key not in sha_of else "its model was retrained since"
        )
    why = record_code_change(record, key in stale_keys)
    return (trial, why) if why else None
