"""The model store: every trained model once, under `<results>/models/<spec key>/`.

`ModelCache.load(spec)` rebuilds a fitted `Method` from `model.pt` (spec, image shape, weights and
extra state); `save` writes it atomically. A failed training leaves `failed.txt` with its message;
`partial.pt` holds the per-epoch state that `--resume` continues from. `get_or_train` serves models
that tasks own (e.g. the imputation classifier) with a file lock, so parallel trials train them once.
On a multi-node cluster the results directory must be on storage every node sees at the same path.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import torch

from methods import get as get_method
from methods.base import Method, ModelSpec


class ModelCache:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def folder(self, spec: ModelSpec) -> Path:
        return self.root / spec.key

    def has(self, spec: ModelSpec) -> bool:
        return (self.folder(spec) / "model.pt").exists()

    def partial_path(self, spec: ModelSpec) -> Path:
        self.folder(spec).mkdir(parents=True, exist_ok=True)
        return self.folder(spec) / "partial.pt"

    def failure(self, spec: ModelSpec) -> str | None:
        path = self.folder(spec) / "failed.txt"
        return path.read_text() if path.exists() else None

    def record_failure(self, spec: ModelSpec, message: str) -> None:
        self.folder(spec).mkdir(parents=True, exist_ok=True)
        (self.folder(spec) / "failed.txt").write_text(message)

    def save(self, method: Method, history: list[dict] | None = None, extra: dict | None = None) -> Path:
        folder = self.folder(method.spec)
        folder.mkdir(parents=True, exist_ok=True)
        blob = {"spec": method.spec.to_dict(), "image_shape": method.image_shape, "state": method.state_dict(),
                "history": history or [], **(extra or {})}
        _atomic_save(blob, folder / "model.pt")
        (folder / "spec.json").write_text(json.dumps(method.spec.to_dict(), indent=1, sort_keys=True))
        for stale in ("failed.txt", "partial.pt"):
            (folder / stale).unlink(missing_ok=True)
        return folder / "model.pt"

    def load(self, spec: ModelSpec, device: str | torch.device = "cpu") -> Method:
        path = self.folder(spec) / "model.pt"
        if not path.exists():
            raise FileNotFoundError(f"Model {spec.key} is not in the cache {self.root}; run the grid to train it.")
        blob = torch.load(path, map_location=device, weights_only=False)
        method = get_method(spec.method)(spec, tuple(blob["image_shape"]))
        method.load_state_dict(blob["state"], device=device)
        method.history_ = blob.get("history", [])
        return method

    def get_or_train(self, name: str, identity: dict, build: Callable[[], torch.nn.Module],
                     train: Callable[[torch.nn.Module], None], device: str | torch.device = "cpu") -> torch.nn.Module:
        """A task-owned model (any nn.Module) identified by `identity`; trained once across trials."""
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]
        folder = self.root / f"{name}-{digest}"
        folder.mkdir(parents=True, exist_ok=True)
        with _file_lock(folder / ".lock"):
            module = build().to(device)
            path = folder / "model.pt"
            if path.exists():
                module.load_state_dict(torch.load(path, map_location=device))
            else:
                train(module)
                _atomic_save(module.state_dict(), path)
                (folder / "identity.json").write_text(json.dumps(identity, indent=1, sort_keys=True, default=str))
        module.eval()
        return module


def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


@contextmanager
def _file_lock(path: Path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
