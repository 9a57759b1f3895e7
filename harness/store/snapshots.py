"""Snapshots of a model along its training: `<results>/models/<key>/snapshots/epoch-NNN.pt`, one per epoch that
the training settings' `snapshot_every` names, with `snapshots/index.json` (each file's epoch, size and
sha256). Written while the model trains (`snapshot_writer`), read back verified (`load_snapshot`), removed
when the model is trained afresh (`clear_snapshots`). A snapshot holds what `Method.load_state_dict` needs,
like `model.pt`, and is read with `torch.load(weights_only=True)` (`laebench.checkpoints`)."""

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
        return json.loads(path.read_text()) if path.exists() else {}
    except ValueError:
        return {}


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
