"""Durable small writes and careful reads: `write_atomic` (temporary name, fsync, rename, fsync the folder),
`sha256_file`, and `read_json`, whose `DamagedFileError` names a damaged file in one line.

Used for model checkpoints and manifests (`harness.store.models`), trial records (`harness.execution.trials.evaluate`) and the plan
files of a run (`harness.execution.run`): a reader sees the old file or the new one, never a torn one.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path


class DamagedFileError(ValueError):
    """A file of the results store is truncated, not JSON or of the wrong shape; the message names it."""


def read_json(path: Path, what: str = "file", kind: type = dict):
    """The JSON in `path` (a `kind`), or `DamagedFileError` naming the file and the fix in one line
    (FileNotFoundError when there is no file)."""
    try:
        value = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        detail = (
            exc.strerror
            if isinstance(exc, OSError) and exc.strerror
            else " ".join(str(exc).split())[:120]
        )
        raise DamagedFileError(
            f"{path}: unreadable {what} ({detail}). Delete it and rerun the grid to redo it."
        ) from None
    if not isinstance(value, kind):
        raise DamagedFileError(
            f"{path}: damaged {what} (not a JSON {kind.__name__}). Delete it and rerun the "
            f"grid to redo it."
        )
    return value


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a unique temporary name in the same folder, fsync, rename over `path`, fsync the folder.
    The file gets the user's umask (no mkstemp: it would make it 0600)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on a directory; the rename is still atomic
        pass
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
