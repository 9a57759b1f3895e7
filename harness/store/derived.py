"""Results derived from a verified model (e.g. the OOD task's typicality reference), kept next to it.

`<model folder>/derived/<name>-<digest>.json` holds `{"key", "value"}`, the key being the name, the caller's identity
and the model's sha256; `derived/index.json` lists each file's size and sha256 (written under `derived/index.lock`).
`keep_derived` returns a stored value only when the file matches the index and its key; a file that does not
(altered, truncated, unlisted) is named in one line and computed again. `check_derived` is `verify`'s view:
every damaged file of a model folder with what will happen to it. Like `entry.json`, the index catches damage,
not an attacker who can write both; a derived file is data (JSON), never code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from harness.store.files import write_atomic
from harness.store.layout import identity_digest, jsonable
from harness.store.locks import exclusive

DERIVED, INDEX, INDEX_LOCK = "derived", "index.json", "index.lock"
RECOMPUTED = "computed again when an evaluation of its model next needs it"


def keep_derived(
    folder: Path,
    model_sha256: str,
    name: str,
    identity: dict,
    compute: Callable[[], object],
    lock_settings: dict | None = None,
    log=print,
) -> object:
    """The value stored for (`name`, `identity`, the model's sha256) in `folder`/derived, else `compute()`
    stored there; a damaged stored file is named (`log`) and computed again."""
    key = {"name": name, "identity": jsonable(identity), "model_sha256": model_sha256}
    path = folder / DERIVED / f"{name}-{identity_digest(key)}.json"
    if path.exists():
        why = damage(path, _read_index(folder / DERIVED)[0])
        if not why:
            stored = json.loads(path.read_text())
            if stored.get("key") == key:
                return stored["value"]
            why = "its key differs from the file name's"
        log(f"[cache] {path} is damaged ({why}): computing it again")
    value = compute()
    data = json.dumps({"key": key, "value": value}, sort_keys=True, default=float).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    with exclusive(path.parent / INDEX_LOCK, f"derived results of {folder.name}", lock_settings):
        write_atomic(path, data)
        index, _ = _read_index(path.parent)
        index[path.name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        write_atomic(path.parent / INDEX, json.dumps(index, indent=1, sort_keys=True).encode())
    return value


def damage(path: Path, index: dict) -> str:
    """'' when `path` matches its line in `index` and holds a JSON object with a key and a value, else why not."""
    listed = index.get(path.name)
    if not isinstance(listed, dict):
        return f"not listed in {DERIVED}/{INDEX}"
    data = path.read_bytes()
    if len(data) != listed.get("size") or hashlib.sha256(data).hexdigest() != listed.get("sha256"):
        return f"its size or sha256 differs from {DERIVED}/{INDEX}"
    try:
        stored = json.loads(data)
    except ValueError:
        return "not JSON"
    if not isinstance(stored, dict) or not {"key", "value"} <= set(stored):
        return "no key and value"
    return ""


def check_derived(folder: Path) -> list[tuple[Path, str]]:
    """Every damaged derived file of the model in `folder`, with why and what will happen to it."""
    where = folder / DERIVED
    if not where.is_dir():
        return []
    index, problem = _read_index(where)
    found = [(where / INDEX, f"{problem}; every derived file is {RECOMPUTED}")] if problem else []
    for path in sorted(where.glob("*.json")):
        if path.name != INDEX and (why := damage(path, index)):
            found.append((path, f"{why}; {RECOMPUTED}"))
    return found


def _read_index(where: Path) -> tuple[dict, str]:
    """The index of a derived folder ({} when none) and, when it is unreadable, why."""
    path = where / INDEX
    if not path.exists():
        return {}, ""
    try:
        index = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return {}, f"{INDEX} is unreadable"
    return (index, "") if isinstance(index, dict) else ({}, f"{INDEX} is not a JSON object")
