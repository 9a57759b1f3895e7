"""Checking a results folder: each model entry (present, complete, matching its manifest, loadable without
running code, trained by the code there is now) and each trial record, and what a rerun would redo (`python -m
harness verify DIR`)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from harness.store.files import DamagedFileError, sha256_file
from harness.store.layout import FAILED, LOCK, MANIFEST, MODEL, PARTIAL, Entry, identity_digest
from harness.store.records import read_record
from laebench.checkpoints import CheckpointError, load_checkpoint
from laebench.fingerprint import fingerprint
from methods.base import ModelSpec, current_code, model_key

_HASHED: dict[
    tuple, tuple[str, str]
] = {}  # (path, inode, size, mtime, ctime) -> (sha256, refusal or ""):


def inspect_folder(folder: Path, hash_file: bool = True) -> Entry:
    """The state of one store folder, with a one-line reason when it is not usable."""
    model, manifest_path = folder / MODEL, folder / MANIFEST
    if not model.exists() and not manifest_path.exists():
        if (folder / FAILED).exists():
            first = (folder / FAILED).read_text().strip().splitlines() or [""]
            return Entry(folder, "failed", f"training failed: {first[0]}")
        if (folder / PARTIAL).exists():
            return Entry(
                folder,
                "interrupted",
                "training was interrupted (--resume continues from its last epoch)",
            )
        return Entry(folder, "missing")
    if not manifest_path.exists():
        return Entry(
            folder,
            "bad",
            "model.pt has no entry.json (its write was interrupted, or an older laebench "
            "wrote it without a checksum)",
        )
    try:
        manifest = json.loads(manifest_path.read_text())
        size, sha, kind = int(manifest["size"]), str(manifest["sha256"]), manifest["kind"]
    except (OSError, ValueError, KeyError, TypeError):
        return Entry(folder, "bad", "entry.json is unreadable")
    if not model.exists():
        return Entry(folder, "bad", "entry.json is present but model.pt is missing")
    try:
        expected = (
            model_key(ModelSpec(**manifest["spec"]).config(), manifest.get("code", ""))
            if kind == "method"
            else f"{folder.name.rsplit('-', 1)[0]}-{identity_digest(manifest['identity'])}"
        )
    except (KeyError, TypeError):
        return Entry(folder, "bad", "entry.json names no spec")
    if expected != folder.name:
        return Entry(folder, "bad", f"entry.json describes model {expected}, not this folder")
    st = model.stat()
    if st.st_size != size:
        what = "truncated" if st.st_size < size else "longer than recorded"
        return Entry(
            folder, "bad", f"model.pt is {st.st_size} bytes but entry.json records {size} ({what})"
        )
    if hash_file:
        memo = (str(model), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if memo not in _HASHED:
            _HASHED[memo] = (sha256_file(model), _refusal(model))
        actual, refused = _HASHED[memo]
        if actual != sha:
            return Entry(folder, "bad", "model.pt's sha256 differs from entry.json (corrupted)")
        if (
            refused
        ):  # a matching manifest vouches for nothing: whoever wrote the file could write both
            return Entry(folder, "bad", refused)
    return Entry(folder, "ok", "", manifest)


def read_manifest(folder: Path) -> dict | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def code_change(entry: Entry) -> str:
    """'' when a verified method entry was trained by the code there is now, else why not (one line)."""
    if not entry.ok or entry.manifest.get("kind") != "method":
        return ""
    try:
        spec = ModelSpec(**{k: v for k, v in entry.manifest["spec"].items() if k != "code"})
        now = current_code(spec)
    except (
        ValueError,
        TypeError,
        KeyError,
    ) as exc:  # a plugin's method that is not registered here
        return f"its code cannot be checked here ({' '.join(str(exc).split())[:120]})"
    then = entry.manifest.get("code", "")
    if then == now:
        return ""
    return (
        f"code changed since it was trained ({entry.manifest.get('written', '?')}; code {then or 'unrecorded'} "
        f"-> {now})"
    )


def _refusal(model: Path) -> str:
    """Why the safe loader refuses `model` ('' when it loads): a checkpoint that holds code is damaged."""
    try:
        load_checkpoint(model, map_location="cpu", name="model.pt")
    except CheckpointError as exc:
        return str(exc)
    return ""


def verify_store(
    results: Path,
) -> tuple[list[Entry], list[tuple[str, str]], int, list[tuple[str, str]]]:
    """Every model entry under `results/models` (or `results` itself when it is a models folder), the
    evaluation records that would be rerun (`(grid/trial, reason)`), the count of leftover temp files, and the
    verified models whose code changed since they were trained (`(key, reason)`: a run trains their
    configuration anew, `run --reuse-stale` keeps them)."""
    models = results / "models" if (results / "models").is_dir() else results
    entries = (
        [inspect_folder(f) for f in sorted(models.iterdir()) if f.is_dir() and _looks_like_entry(f)]
        if models.is_dir()
        else []
    )
    leftovers = sum(1 for e in entries for _ in e.folder.glob(".*.tmp"))
    sha_of = {e.folder.name: e.manifest["sha256"] for e in entries if e.ok}
    stale = [(e.folder.name, why) for e in entries if (why := code_change(e))]
    stale_keys = {key for key, _ in stale}
    reruns = []
    for run_dir in (
        sorted(p for p in results.iterdir() if (p / "trials").is_dir()) if results.is_dir() else []
    ):
        for path in sorted((run_dir / "trials").glob("*.json")):
            try:
                record = read_record(path)
            except DamagedFileError:
                reruns.append((f"{run_dir.name}/{path.name}", "unreadable record"))
                continue
            trial, key = record.trial_id, record.model_key
            if not record.ok:
                reruns.append((f"{run_dir.name}/{trial}", f"failed: {record.error}"))
            elif key and record.model_sha256 != sha_of.get(key):
                why = (
                    "its model is not usable"
                    if key not in sha_of
                    else "its model was retrained since"
                )
                reruns.append((f"{run_dir.name}/{trial}", why))
            elif why := _record_code_change(record, key in stale_keys):
                reruns.append((f"{run_dir.name}/{trial}", why))
    return entries, reruns, leftovers, stale


def _record_code_change(record, model_stale: bool) -> str:
    """'' when the record was made by the task code there is now from a model of current code, else why not."""
    from tasks import get as get_task

    if record.stale:
        return "made with --reuse-stale from a model whose code changed since"
    if model_stale:
        return "code changed since (its model's method)"
    then = record.code.get("task")
    if not then:
        return "code unrecorded (made before code fingerprints)"
    try:
        now = fingerprint(get_task(record.task))
    except ValueError:
        return ""  # a plugin's task that is not registered here: cannot tell
    return "" if now == then else f"code changed since (task {record.task}: {then} -> {now})"


def lock_holder(folder: Path) -> str | None:
    """'pid N on HOST' when a trainer holds the folder's lock now, else None."""
    try:
        fields = dict(
            line.split("=", 1) for line in (folder / LOCK).read_text().splitlines() if "=" in line
        )
    except OSError:
        return None
    pid, host = fields.get("pid", "?"), fields.get("host", "?")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return None  # a killed trainer's lock: the next trainer takes it over at once
        except PermissionError:
            pass
    return f"pid {pid} on {host}"


def _looks_like_entry(folder: Path) -> bool:
    return any((folder / name).exists() for name in (MODEL, MANIFEST, FAILED, PARTIAL, LOCK))
