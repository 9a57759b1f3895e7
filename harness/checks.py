"""The small checks grid validation is made of, and `ConfigError`, whose message starts with the key path."""
from __future__ import annotations

import math


class ConfigError(ValueError):
    """A grid file is malformed; the message names the key path and the fix."""


def require(ok: bool, path: str, what: str, got) -> None:
    if not ok:
        raise ConfigError(f"{path} {what}. Got {got!r}.")


def no_unknown(mapping: dict, allowed: set, path: str) -> None:
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown}. Allowed: {', '.join(sorted(allowed))}.")


def is_number(v) -> bool:
    """A finite int or float (YAML's .nan and .inf are not numbers a setting can take)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def safe_name(v) -> bool:
    """A name that is also a safe file or folder name: no '/', no '..', no leading '.'."""
    return isinstance(v, str) and bool(v) and not v.startswith(".") and \
        v.replace("-", "_").replace(".", "_").isidentifier()
