"""The on-disk layout of a model entry (`<results>/models/<key>/`): its file names, the manifest format, what a
check of an entry found (`Entry`), and the digest of a task-owned model's identity."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

MODEL, MANIFEST, FAILED, PARTIAL, LOCK, TRAININGS = (
    "model.pt",
    "entry.json",
    "failed.txt",
    "partial.pt",
    "train.lock",
    "trainings.jsonl",
)


FORMAT = 1


class CacheError(RuntimeError):
    """A cached model is missing or does not match its manifest; the message is one line."""


@dataclasses.dataclass
class Entry:
    """What `check` found in one store folder."""

    folder: Path
    status: str  # ok | missing | failed | interrupted | bad
    reason: str = ""
    manifest: dict | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def jsonable(obj):
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def identity_digest(identity: dict) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[
        :16
    ]
