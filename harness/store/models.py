"""The model store: every trained model once, under `<results>/models/<spec key>/`, verified on every use.

A finished entry is `model.pt` (spec, image shape, weights, extra state) plus `entry.json`, its manifest:
the spec it was trained from, the checkpoint's size and sha256, who wrote it. Both are written to a
temporary name, fsynced and renamed, `model.pt` last: a process killed mid-write leaves a manifest without
its checkpoint (or a torn temporary file), which `check` reports as bad, never an unvouched `model.pt`.
`check(spec)` reports an entry as ok, missing, failed, interrupted or bad (with a one-line reason:
truncated, checksum mismatch, no manifest, another spec); only ok counts as cached, and `load` hashes
the very bytes it unpickles. `lock(spec)` is the per-model lease (`harness.store.locks`) under which a trainer
re-checks the entry, so concurrent runs and nodes train each model once. `failed.txt` holds a failed
training's message, `partial.pt` the per-epoch state `--resume` continues from, `trainings.jsonl` one
line per completed training. `get_or_train` serves task-owned models (the imputation classifier) the
same way; `derived` keeps results computed from a model next to it (`harness.store.derived`).
`harness.store.survey.verify_store(root)` checks a whole store (`python -m harness verify DIR`).
On a multi-node cluster the results directory must be on storage every node sees at the same path.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import torch

from harness.store.derived import keep_derived
from harness.store.files import write_atomic
from harness.store.layout import (
    FAILED,
    FORMAT,
    LOCK,
    MANIFEST,
    MODEL,
    PARTIAL,
    TRAININGS,
    CacheError,
    Entry,
    identity_digest,
    jsonable,
)
from harness.store.locks import exclusive
from harness.store.verify import inspect_folder, read_manifest
from laebench.checkpoints import CheckpointError, load_checkpoint
from laebench.fingerprint import fingerprint
from methods import get as get_method
from methods.base import Method, ModelSpec


class ModelCache:
    """The store under `root` (created on the first write: reading a store never writes). `lock_settings`
    None: from the environment (`harness.store.locks.lock_settings`)."""

    def __init__(self, root: str | os.PathLike, lock_settings: dict | None = None):
        self.root, self.lock_settings = Path(root), lock_settings
        self._by_config: dict[str, list[Path]] | None = None  # config digest -> folders (`stale`)

    def folder(self, spec: ModelSpec) -> Path:
        return self.root / spec.key

    def check(self, spec: ModelSpec) -> Entry:
        return inspect_folder(self.folder(spec))

    def has(self, spec: ModelSpec) -> bool:
        return self.check(spec).ok

    def entry(self, spec: ModelSpec) -> dict | None:
        """The verified manifest of `spec`'s model, or None."""
        found = self.check(spec)
        return found.manifest if found.ok else None

    def stored_specs(self, methods: tuple[str, ...] = ()) -> list[ModelSpec]:
        """The spec of every verified method model in the store (of `methods` only, when given), each pinned
        to the code fingerprint it was trained by, so that `load(spec)` finds it whatever the code is now."""
        specs = []
        for folder in sorted(self.root.iterdir()) if self.root.is_dir() else []:
            found = inspect_folder(folder)
            if not found.ok or found.manifest.get("kind") != "method":
                continue
            spec = ModelSpec(**{**found.manifest["spec"], "code": found.manifest.get("code", "")})
            if (not methods or spec.method in methods) and spec.key == folder.name:
                specs.append(spec)
        return specs

    def stale(self, spec: ModelSpec) -> Entry | None:
        """A verified model of the same configuration as `spec` trained by other code (the method's code, or a
        dependency's, changed since), or None. The newest one when there are several."""
        if self._by_config is None:
            self._by_config = {}
            for folder in sorted(self.root.iterdir()) if self.root.is_dir() else []:
                manifest = read_manifest(folder) or {}
                if manifest.get("kind") == "method" and isinstance(manifest.get("spec"), dict):
                    try:
                        config = ModelSpec(**manifest["spec"]).config()
                    except TypeError:  # a manifest of another layout: not this configuration
                        continue
                    self._by_config.setdefault(identity_digest(config), []).append(folder)
        found = [
            inspect_folder(f)
            for f in self._by_config.get(identity_digest(spec.config()), [])
            if f.name != spec.key
        ]
        found = [e for e in found if e.ok]
        return max(found, key=lambda e: e.manifest.get("written", "")) if found else None

    def derived(
        self, spec: ModelSpec, name: str, identity: dict, compute: Callable[[], object]
    ) -> object:
        """A result computed from a verified model (e.g. a task's typicality reference), kept next to it and
        served while the model and `identity` are the same (`harness.store.derived`)."""
        entry = self.entry(spec)
        if entry is None:
            return compute()
        return keep_derived(
            self.folder(spec), entry["sha256"], name, identity, compute, self.lock_settings
        )

    def partial_path(self, spec: ModelSpec) -> Path:
        self.folder(spec).mkdir(parents=True, exist_ok=True)
        return self.folder(spec) / PARTIAL

    def lock(self, spec: ModelSpec):
        return exclusive(self.folder(spec) / LOCK, f"model {spec.key}", self.lock_settings)

    def failure(self, spec: ModelSpec) -> str | None:
        path = self.folder(spec) / FAILED
        return path.read_text() if path.exists() else None

    def failure_stamp(self, spec: ModelSpec) -> tuple | None:
        """Identity of the current failure record (to notice one written while waiting for the lock)."""
        try:
            st = (self.folder(spec) / FAILED).stat()
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def record_failure(self, spec: ModelSpec, message: str) -> None:
        self.folder(spec).mkdir(parents=True, exist_ok=True)
        write_atomic(self.folder(spec) / FAILED, message.encode())

    def discard(self, spec: ModelSpec) -> None:
        """Remove a bad entry and temporary files left by killed writers (call under `lock`)."""
        folder = self.folder(spec)
        for name in (MANIFEST, MODEL):
            (folder / name).unlink(missing_ok=True)
        for tmp in folder.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        (folder / (PARTIAL + ".tmp")).unlink(missing_ok=True)

    def save(
        self,
        method: Method,
        history: list[dict] | None = None,
        extra: dict | None = None,
        run_id: str = "",
    ) -> Path:
        spec = method.spec
        folder = self.folder(spec)
        folder.mkdir(parents=True, exist_ok=True)
        blob = {
            "spec": spec.to_dict(),
            "image_shape": method.image_shape,
            "state": method.state_dict(),
            "history": history or [],
            **(extra or {}),
        }
        (folder / MODEL).unlink(missing_ok=True)  # no moment where an old checkpoint looks finished
        manifest = _write_checkpoint(
            folder,
            blob,
            {
                "kind": "method",
                "key": spec.key,
                "spec": spec.to_dict(),
                "code": spec.code_fingerprint,
                "method_code": fingerprint(type(method)),
                "run_id": run_id,
            },
        )
        (folder / "spec.json").write_text(json.dumps(spec.to_dict(), indent=1, sort_keys=True))
        with open(folder / TRAININGS, "a") as log:
            log.write(
                json.dumps({k: manifest[k] for k in ("written", "host", "pid", "run_id", "sha256")})
                + "\n"
            )
            log.flush()
            os.fsync(log.fileno())
        for stale in (FAILED, PARTIAL):
            (folder / stale).unlink(missing_ok=True)
        return folder / MODEL

    def load(self, spec: ModelSpec, device: str | torch.device = "cpu") -> Method:
        data = self._verified_bytes(self.folder(spec), spec.key)
        try:
            blob = load_checkpoint(data, map_location=device, name=str(self.folder(spec) / MODEL))
        except CheckpointError as exc:
            raise CacheError(
                f"Model {spec.key} is unusable: {exc}; rerun the grid to retrain it."
            ) from None
        method = get_method(spec.method)(spec, tuple(blob["image_shape"]))
        method.load_state_dict(blob["state"], device=device)
        method.history_ = blob.get("history", [])
        return method

    def _verified_bytes(self, folder: Path, key: str) -> bytes:
        found = inspect_folder(folder, hash_file=False)
        if found.status in ("missing", "failed", "interrupted"):
            raise CacheError(
                f"Model {key} is not in the cache {self.root} ({found.status}); run the grid to "
                f"train it."
            )
        if found.status == "bad":
            raise CacheError(
                f"Model {key} in {self.root} is unusable: {found.reason}; rerun the grid to retrain it."
            )
        data = (folder / MODEL).read_bytes()
        manifest = found.manifest
        if len(data) != manifest["size"] or hashlib.sha256(data).hexdigest() != manifest["sha256"]:
            raise CacheError(
                f"Model {key} in {self.root} is unusable: model.pt does not match its recorded size "
                f"and sha256; rerun the grid to retrain it."
            )
        return data

    def get_or_train(
        self,
        name: str,
        identity: dict,
        build: Callable[[], torch.nn.Module],
        train: Callable[[torch.nn.Module], None],
        device: str | torch.device = "cpu",
    ) -> torch.nn.Module:
        """A task-owned model (any nn.Module) identified by `identity`; trained once across trials and runs."""
        folder = self.root / f"{name}-{identity_digest(identity)}"
        folder.mkdir(parents=True, exist_ok=True)
        module = build().to(device)
        with exclusive(folder / LOCK, f"model {folder.name}", self.lock_settings):
            found = inspect_folder(folder)
            if found.ok:
                state = load_checkpoint(
                    self._verified_bytes(folder, folder.name),
                    map_location=device,
                    name=str(folder / MODEL),
                )
                module.load_state_dict(state)
            else:
                if found.status == "bad":
                    print(f"[cache] retraining {folder.name}: {found.reason}", flush=True)
                for stale in (MODEL, MANIFEST):
                    (folder / stale).unlink(missing_ok=True)
                train(module)
                _write_checkpoint(
                    folder,
                    module.state_dict(),
                    {"kind": "aux", "key": folder.name, "identity": jsonable(identity)},
                )
                (folder / "identity.json").write_text(
                    json.dumps(identity, indent=1, sort_keys=True, default=str)
                )
        module.eval()
        return module


# --- writing ----------------------------------------------------------------------------------------------


def _write_checkpoint(folder: Path, obj, manifest: dict) -> dict:
    """The manifest first, then the checkpoint: `model.pt` appearing is the commit point of an entry."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    data = buffer.getvalue()
    manifest = {
        "format": FORMAT,
        **manifest,
        "file": MODEL,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    write_atomic(folder / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
    write_atomic(folder / MODEL, data)
    return manifest
