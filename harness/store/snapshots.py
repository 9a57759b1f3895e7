"""Snapshots of a model along its training: `<results>/models/<key>/snapshots/epoch-NNN.pt`, one per epoch that
the training settings' `snapshot_every` names, with `snapshots/index.json` (each file's epoch, size and
sha256). Written while the model trains (`snapshot_writer`), read back verified (`load_snapshot`), removed
when the model is trained afresh (`clear_snapshots`), checked by `verify` (`check_snapshots`: each damaged one
named with what will happen to it). A snapshot holds what `Method.load_state_dict` needs, like `model.pt`, and
is read with `torch.load(weights_only=True)` (`laebench.checkpoints`)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import torch

from harness.store.files import write_atomic
from harness.store.layout import CacheError
from laebench.checkpoints import CheckpointError, load_checkpoint
from methods import get as get_method
from methods.base import Method, ModelSpec

SNAPSHOTS, INDEX = "snapshots", "index.json"


def snapshot_name(epoch: int) -> str:
    return f"epoch-{int(epoch):03d}.pt"


def _index(folder: Path) -> dict:
    path = folder / SNAPSHOTS / INDEX
    try:
        index = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return index if isinstance(index, dict) else {}


def snapshot_writer(folder: Path, spec: ModelSpec, image_shape) -> Callable[[int, dict], None]:
    """The `snapshot(epoch, state)` callback of `Method.fit` for the model stored in `folder`."""

    def write(epoch: int, state: dict) -> None:
        buffer = io.BytesIO()
        torch.save(
            {
                "spec": spec.to_dict(),
                "image_shape": tuple(image_shape),
                "epoch": epoch,
                "state": state,
            },
            buffer,
        )
        data = buffer.getvalue()
        (folder / SNAPSHOTS).mkdir(parents=True, exist_ok=True)
        write_atomic(folder / SNAPSHOTS / snapshot_name(epoch), data)
        index = _index(folder)
        index[snapshot_name(epoch)] = {
            "epoch": int(epoch),
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        write_atomic(
            folder / SNAPSHOTS / INDEX, json.dumps(index, indent=1, sort_keys=True).encode()
        )

    return write


def snapshot_sha256(folder: Path, epoch: int) -> str | None:
    """The recorded sha256 of the snapshot at `epoch` (what an evaluation of it records), or None."""
    return (_index(folder).get(snapshot_name(epoch)) or {}).get("sha256")


def snapshot_epochs(folder: Path) -> list[int]:
    """The epochs with a snapshot listed in the index."""
    return sorted(int(v["epoch"]) for v in _index(folder).values())


def load_snapshot(folder: Path, spec: ModelSpec, epoch: int, device="cpu") -> Method:
    """The model `spec` as it was after `epoch` epochs, checked against the index; CacheError (one line, with the
    fix) when it is missing or damaged."""
    name = snapshot_name(epoch)
    listed = _index(folder).get(name)
    path = folder / SNAPSHOTS / name
    if listed is None or not path.exists():
        have = ", ".join(map(str, snapshot_epochs(folder))) or "none"
        raise CacheError(
            f"model {spec.key} has no snapshot at epoch {epoch} (snapshots: {have}); train it with "
            f"train.snapshot_every dividing {epoch} (delete {folder} to retrain it)."
        )
    data = path.read_bytes()
    if len(data) != listed["size"] or hashlib.sha256(data).hexdigest() != listed["sha256"]:
        raise CacheError(
            f"snapshot {path} does not match its recorded size and sha256; delete {folder} to retrain it."
        )
    try:
        blob = load_checkpoint(data, map_location=device, name=str(path))
    except CheckpointError as exc:
        raise CacheError(
            f"snapshot {path} is unusable: {exc}; delete {folder} to retrain it."
        ) from None
    method = get_method(spec.method)(spec, tuple(blob["image_shape"]))
    method.load_state_dict(blob["state"], device=device)
    return method


def clear_snapshots(folder: Path) -> None:
    """Remove the snapshots of a model about to be trained from its first epoch."""
    shutil.rmtree(folder / SNAPSHOTS, ignore_errors=True)


REFUSED = "refused when read (load_snapshot); training the model afresh writes it again"


def check_snapshots(folder: Path) -> list[tuple[Path, str]]:
    """Every damaged snapshot of the model in `folder` (unlisted in the index, another size or sha256, or a file the
    safe loader refuses), and an unreadable index, each with why and what will happen to it."""
    where = folder / SNAPSHOTS
    if not where.is_dir():
        return []
    found, index = [], _index(folder)
    if (where / INDEX).exists() and not index:
        found.append((where / INDEX, f"unreadable or empty; every snapshot is {REFUSED}"))
    for path in sorted(where.glob("epoch-*.pt")):
        listed = index.get(path.name)
        data = path.read_bytes()
        if not isinstance(listed, dict):
            why = f"not listed in {SNAPSHOTS}/{INDEX}"
        elif len(data) != listed.get("size") or hashlib.sha256(data).hexdigest() != listed.get(
            "sha256"
        ):
            why = f"its size or sha256 differs from {SNAPSHOTS}/{INDEX}"
        else:
            why = _refusal(data, path)
        if why:
            found.append((path, f"{why}; {REFUSED}"))
    return found


def _refusal(data: bytes, path: Path) -> str:
    try:
        load_checkpoint(data, map_location="cpu", name=str(path))
    except CheckpointError as exc:
        return str(exc)
    return ""
