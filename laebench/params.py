"""Declarative parameters of methods and tasks: name, kind, range, default, doc, in one place.

A class sets `param_spec = {"p": Param(0.2, "dropout probability", low=0, high=1, low_open=True,
high_open=True), ...}`; `default_params` is derived from it, `validate(owner, spec, params)` fills the
defaults and checks every value with a one-line error naming `owner.name`, the accepted values and the value
given, and `describe()` is what `python -m harness list --params` prints. Checks that involve several
parameters at once stay in the class's `validate_params`, after `super().validate_params(...)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

KINDS = ("number", "int", "choice", "bool", "list", "any")


@dataclass(frozen=True)
class Param:
    default: Any
    doc: str
    kind: str = ""  # "number" (int or float), "int", "choice" (one of `choices`), "bool",
    #                 "list" (non-empty, each element checked by `item`), "any" (checked by the class);
    #                 "" infers it from the default: "bool" for True/False, else "number"
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # the bound itself excluded
    high_open: bool = False
    choices: tuple = ()
    nullable: bool = False  # None accepted (e.g. "choose it for me")
    item: Param | None = None  # kind "list": what each element must be
    accepts: str = ""  # kind "any": the accepted values in words (the class checks them)

    def __post_init__(self):
        if not self.kind:
            object.__setattr__(self, "kind", "bool" if isinstance(self.default, bool) else "number")
        if self.kind not in KINDS:
            raise ValueError(f"Param kind must be one of {', '.join(KINDS)}. Got {self.kind!r}.")
        if self.kind == "choice" and not self.choices:
            raise ValueError("Param of kind 'choice' needs its choices.")
        if self.kind == "list" and self.item is None:
            raise ValueError("Param of kind 'list' needs its item Param.")

    def accepted(self) -> str:
        """What the parameter accepts, in words: 'a number in (0, 1)', 'one of exact, approx', ..."""
        if self.kind == "choice":
            text = "one of " + ", ".join(map(str, self.choices))
        elif self.kind == "list":
            text = f"a non-empty list, each {self.item.accepted()}"
        elif self.kind == "any":
            text = self.accepts or "any value"
        elif self.kind == "bool":
            text = "true or false"
        else:
            noun = "an integer" if self.kind == "int" else "a number"
            if self.low == 0 and self.low_open and self.high is None:
                text = "a positive integer" if self.kind == "int" else "a positive number"
            elif self.low is not None and self.high is not None:
                text = (
                    f"{noun} in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}"
                    f"{')' if self.high_open else ']'}"
                )
            elif self.low is not None:
                text = f"{noun} {'>' if self.low_open else '>='} {self.low:g}"
            elif self.high is not None:
                text = f"{noun} {'<' if self.high_open else '<='} {self.high:g}"
            else:
                text = noun
        return text + (" or null" if self.nullable else "")

    def ok(self, value) -> bool:
        if self.kind == "any":
            return True
        if value is None:
            return self.nullable
        if self.kind == "choice":
            return value in self.choices
        if self.kind == "list":
            return isinstance(value, list) and bool(value) and all(self.item.ok(v) for v in value)
        if self.kind == "bool":
            return isinstance(value, bool)
        if isinstance(value, bool) or not isinstance(
            value, int if self.kind == "int" else (int, float)
        ):
            return False
        if not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return self.high is None or not (
            value > self.high or (self.high_open and value == self.high)
        )

    def describe(self) -> str:
        return f"{self.accepted()}; default {self.default!r}. {self.doc}"


def defaults(spec: dict[str, Param]) -> dict[str, Any]:
    return {name: p.default for name, p in spec.items()}


def validate(
    owner: str, kind: str, spec: dict[str, Param], defaults_: dict[str, Any], params: dict
) -> dict:
    """`params` with defaults filled in; unknown names and values a `Param` refuses raise ValueError."""
    unknown = set(params) - set(defaults_)
    if unknown:
        allowed = ", ".join(sorted(defaults_)) or "none"
        raise ValueError(
            f"Unknown parameter(s) {sorted(unknown)} for {kind} '{owner}'. Allowed: {allowed}."
        )
    out = {**defaults_, **params}
    for name, p in spec.items():
        if name in out and not p.ok(out[name]):
            if name not in params:  # the class's own default: its author's mistake, not the user's
                raise ValueError(
                    f"{kind} '{owner}' declares an invalid default for {name}: {out[name]!r} is not "
                    f"{p.accepted()}. Fix its Param (the default, or kind=...)."
                )
            raise ValueError(
                f"{owner}.{name} must be {p.accepted()} ({p.doc.split('.')[0].strip()}). "
                f"Got {out[name]!r}."
            )
    return out


class Parameterised:
    """What methods and tasks share: a registry `key`, a one-line `description`, declarative parameters
    (`param_spec`, from which `default_params` derives) and `validate_params`. `kind` names the family in
    error messages."""

    kind: str = "component"
    key: str = ""  # set by the registry's `register`
    description: str = ""
    default_params: dict[str, Any] = {}
    param_spec: dict[str, Param] = {}  # declarative parameters; default_params derives from it

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "param_spec" in cls.__dict__ and "default_params" not in cls.__dict__:
            cls.default_params = defaults(cls.param_spec)

    @classmethod
    def validate_params(cls, params: dict) -> dict:
        """Fill defaults; unknown names and values `param_spec` refuses raise ValueError (one line)."""
        return validate(cls.key, cls.kind, cls.param_spec, cls.default_params, params)
