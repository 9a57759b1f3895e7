"""Checking one model entry (present, complete, matching its manifest, loadable without running code, trained by
the code there is now) and one trial record (made by the task code there is now), and who holds an entry's lock.
The whole folder (what its current plans need, and orphans) is `harness.store.survey`'s."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from harness.store.files import sha256_file
from harness.store.layout import FAILED, LOCK, MANIFEST, MODEL, PARTIAL, Entry, identity_digest
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


def code_change(entry: Entry) -> str | None:
    """'' when a verified method entry was trained by the code there is now, else why not (one line); None when
    its method is not registered here (a plugin's: `--plugins` imports it), so its code cannot be checked."""
    if not entry.ok or entry.manifest.get("kind") != "method":
        return ""
    try:
        spec = ModelSpec(**{k: v for k, v in entry.manifest["spec"].items() if k != "code"})
        now = current_code(spec)
    except (ValueError, TypeError, KeyError):
        return None
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


def record_code_change(record, model_stale: bool) -> str:
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


def looks_like_entry(folder: Path) -> bool:
    return any((folder / name).exists() for name in (MODEL, MANIFEST, FAILED, PARTIAL, LOCK))
