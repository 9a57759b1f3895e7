"""Reading checkpoints without running code: every `.pt` file laebench loads goes through `load_checkpoint`.

A results folder or a data cache is shared between nodes and users and copied around to rebuild reports,
so a file in it is untrusted input: an unpickled `model.pt` or `partial.pt` could run any code it names.
`load_checkpoint` reads with `torch.load(weights_only=True)` (tensors, plain containers and numbers only)
and turns a refusal or a damaged file into one `CheckpointError` line that names the file; callers treat
the file as damaged and redo what it held. laebench writes only such plain types into its checkpoints
(`Method.state_dict`, optimiser and scheduler states, lists of dicts), so nothing needs allow-listing; a
plugin whose `extra_state` holds another type fails its checkpoint round trip in `check_method`, with this
error, instead of being loaded unsafely (`torch.serialization.add_safe_globals` allow-lists a class).
"""

from __future__ import annotations

import io
import os
import pickle
import re
import warnings
import zipfile

import torch


class CheckpointError(RuntimeError):
    """A checkpoint was refused (it holds more than tensors and plain values) or could not be read."""


def load_checkpoint(
    source: str | os.PathLike | bytes, map_location=None, *, name: str = ""
) -> object:
    """The object saved in `source` (a path, or the bytes of a file named `name`), loaded with
    `weights_only=True`. Raises `CheckpointError` naming the file when it is refused or unreadable."""
    label = name or (str(source) if not isinstance(source, bytes) else "checkpoint")
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with (
            warnings.catch_warnings()
        ):  # a file of another pickle protocol is refused or read, not warned about
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(stream, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if found:
            raise CheckpointError(
                f"{label} was refused: it holds a reference to {found.group(1)}, not only tensors "
                f"and plain values (loading it could run code); treat it as damaged"
            ) from None
        opcode = re.search(r"Unsupported operand (\d+)", str(exc))
        why = (
            f"not a checkpoint: pickle opcode {opcode.group(1)} refused"
            if opcode
            else _first_line(exc)
        )
        raise CheckpointError(f"{label} is unreadable ({why})") from None
    except (OSError, EOFError, RuntimeError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"{label} is unreadable ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
