"""Declarative parameters (`laebench.params`): accepted values in words, checks, defaults derived, listing."""

import math

import pytest

import methods
from laebench.params import Param, validate
from tests.conftest import run_cli


@pytest.mark.parametrize(
    "param, good, bad, words",
    [
        (
            Param(0.2, "p.", low=0, high=1, low_open=True, high_open=True),
            [0.5, 1e-9],
            [0, 1, True, "0.5", math.nan],
            "a number in (0, 1)",
        ),
        (Param(5, "n.", kind="int", low=2), [2, 7], [1, 2.0, True, None], "an integer >= 2"),
        (
            Param(1.0, "x.", low=0, low_open=True),
            [1e-12, 3],
            [0, -1, math.inf],
            "a positive number",
        ),
        (
            Param(None, "x.", low=0, low_open=True, nullable=True),
            [None, 2],
            [0, "a"],
            "a positive number or null",
        ),
        (
            Param(0.0, "x.", low=0, high=1, high_open=True),
            [0, 0.999],
            [1, -0.1],
            "a number in [0, 1)",
        ),
        (
            Param("a", "c.", kind="choice", choices=("a", "b")),
            ["a", "b"],
            ["c", None, 1],
            "one of a, b",
        ),
        (Param(False, "f.", kind="bool"), [True, False], [0, 1, "yes"], "true or false"),
        (
            Param([8], "s.", kind="list", item=Param(8, "", kind="int", low=4)),
            [[4], [8, 16]],
            [[], [3], 8, [8.0], None],
            "a non-empty list, each an integer >= 4",
        ),
        (
            Param(1, "n.", kind="any", accepts="whatever the class checks"),
            [None, {}, -1],
            [],
            "whatever the class checks",
        ),
    ],
)
def test_param_accepts_exactly_what_it_says(param, good, bad, words):
    assert param.accepted() == words
    assert all(param.ok(v) for v in good)
    assert not any(param.ok(v) for v in bad)


def test_validate_fills_defaults_and_names_the_key():
    spec = {
        "p": Param(
            0.2, "Dropout probability. More text.", low=0, high=1, low_open=True, high_open=True
        )
    }
    assert validate("m", "method", spec, {"p": 0.2}, {}) == {"p": 0.2}
    with pytest.raises(
        ValueError, match=r"^m\.p must be a number in \(0, 1\) \(Dropout probability\)\. Got 1\.$"
    ):
        validate("m", "method", spec, {"p": 0.2}, {"p": 1})
    with pytest.raises(
        ValueError, match=r"Unknown parameter\(s\) \['q'\] for method 'm'\. Allowed: p\."
    ):
        validate("m", "method", spec, {"p": 0.2}, {"q": 1})


def test_default_params_derive_from_the_spec_and_subclasses_inherit_it():
    cls = methods.get("mc_ae")
    assert cls.default_params == {"p": 0.2}
    sub = type("Sub", (cls,), {"__module__": "x"})
    assert sub.default_params == {"p": 0.2} and sub.param_spec is cls.param_spec
    with pytest.raises(ValueError, match="must be a number in"):
        sub.validate_params({"p": 2})


def test_list_params_prints_every_parameter():
    proc = run_cli("list", "--params")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "temperature: a positive number; default 1.0." in out
    assert "size: an integer >= 2; default 5." in out
    for name in methods.get("lae_online").default_params:
        assert f"      {name}: " in out
