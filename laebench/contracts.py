"""What `methods.testing.check_method` and `tasks.testing.check_task` check alike: registration and parameters.

`require(condition, message)` raises AssertionError (also under `python -O`, unlike `assert`).
`check_registered_class(cls, base, registry)`: `cls` subclasses `base`, is the class `registry` holds under
`cls.key`, `validate_params({})` gives `default_params`, and an unknown parameter raises ValueError.
"""

from __future__ import annotations

from .registry import Registry


def require(condition, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def check_registered_class(cls, base: type, registry: Registry) -> str:
    """The checks above; returns how messages name the class, e.g. "method 'ae'"."""
    require(
        isinstance(cls, type) and issubclass(cls, base),
        f"{cls!r} is not a subclass of {base.__qualname__}.",
    )
    require(
        cls.key in registry.names() and registry.get(cls.key) is cls,
        f"{cls.__name__} is not registered: decorate it with the {registry.kind} registry's register(key).",
    )
    where = f"{registry.kind} '{cls.key}'"
    require(
        cls.validate_params({}) == dict(cls.default_params),
        f"{where}: validate_params({{}}) must give default_params.",
    )
    try:
        cls.validate_params({"no_such_parameter_xyz": 1})
    except ValueError:
        pass
    else:
        raise AssertionError(f"{where}: an unknown parameter must raise ValueError.")
    return where
