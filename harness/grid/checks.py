"""The small checks grid validation is made of, and `ConfigError`, whose message starts with the key path."""

from __future__ import annotations

import math
import reprlib


class ConfigError(ValueError):
    """A grid file is malformed; the message names the key path and the fix."""


MAX_NAME = 100  # characters of a grid, experiment or method name (each names a folder or a file)


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxstring, _SHORT.maxother = 3, 6, 6, 60, 60


def shown(value, limit: int = 160) -> str:
    """A short repr of `value` (`reprlib`: a few levels and items, never the whole of a huge or shared
    structure), so an error line stays one short line whatever the grid holds."""
    text = _SHORT.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def require(ok: bool, path: str, what: str, got) -> None:
    if not ok:
        raise ConfigError(f"{path} {what}. Got {shown(got)}.")


def no_unknown(mapping: dict, allowed: set, path: str) -> None:
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) {unknown}. Allowed: {', '.join(sorted(allowed))}."
        )


def is_number(v) -> bool:
    """A finite int or float (YAML's .nan and .inf are not numbers a setting can take)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def safe_name(v) -> bool:
    """A name that is also a safe file or folder name: letters, digits, '-', '_', '.', not starting with '.',
    at most `MAX_NAME` characters (no '/', NUL, newline or anything a file system may refuse)."""
    return (
        isinstance(v, str)
        and 0 < len(v) <= MAX_NAME
        and not v.startswith(".")
        and v.isascii()
        and v.replace("-", "_").replace(".", "_").isidentifier()
    )
