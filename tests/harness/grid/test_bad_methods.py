"""Bad grids, second half (methods, plugins, unbounded YAML, values checked for meaning): exit 2 with one line."""

from __future__ import annotations

import pytest

from tests.harness.bad_inputs import BOMB, DRY, check, exp, grid

CASES = [
    # --- methods ----------------------------------------------------------------------------------------------
    (
        "method_params_a_list",
        grid(exp=exp(methods="{ae: [1, 2]}")),
        {},
        DRY,
        {},
        "experiments[0].methods.ae must be a mapping of parameters",
    ),
    (
        "method_params_a_word",
        grid(exp=exp(methods="{ae: fast}")),
        {},
        DRY,
        {},
        "experiments[0].methods.ae must be a mapping of parameters",
    ),
    (
        "methods_a_list",
        grid(exp=exp(methods="[ae]")),
        {},
        DRY,
        {},
        "methods must be a non-empty mapping",
    ),
    (
        "methods_empty",
        grid(exp=exp(methods="{}")),
        {},
        DRY,
        {},
        "methods must be a non-empty mapping",
    ),
    ("method_unknown", grid(exp=exp(methods="{aee: {}}")), {}, DRY, {}, "Unknown method 'aee'"),
    (
        "method_param_unknown",
        grid(exp=exp(methods="{ae: {bogus: 1}}")),
        {},
        DRY,
        {},
        "Unknown parameter(s)",
    ),
    (
        "method_param_value",
        grid(exp=exp(methods="{ensemble: {size: 1}}")),
        {},
        DRY,
        {},
        "ensemble.size must be",
    ),
    (
        "method_key_a_number",
        grid(exp=exp(methods="{x: {method: 3}}")),
        {},
        DRY,
        {},
        "methods.x.method must be",
    ),
    (
        "method_label_path",
        grid(exp=exp(methods="{'../x': {method: ae}}")),
        {},
        DRY,
        {},
        "leaderboard row labels",
    ),
    # --- plugins ----------------------------------------------------------------------------------------------
    (
        "plugins_a_word",
        grid("plugins: mymod"),
        {},
        DRY,
        {},
        "plugins must be a list of module names",
    ),
    (
        "plugin_name_a_path",
        grid("plugins: ['../evil']"),
        {},
        DRY,
        {},
        "plugins must be a list of module names",
    ),
    (
        "plugin_missing",
        grid("plugins: [no_such_plugin_xyz]"),
        {},
        DRY,
        {},
        "Cannot import plugin module 'no_such_plugin_xyz'",
    ),
    (
        "plugin_raises",
        grid("plugins: [bad_plugin_raises]"),
        {"bad_plugin_raises.py": "x = 1\nraise RuntimeError('boom at import')\n"},
        DRY,
        {},
        "Plugin module 'bad_plugin_raises' failed to import: RuntimeError: boom at import (at ",
    ),
    (
        "plugin_syntax_error",
        grid("plugins: [bad_plugin_syntax]"),
        {"bad_plugin_syntax.py": "def f(:\n"},
        DRY,
        {},
        "Plugin module 'bad_plugin_syntax' failed to import: SyntaxError",
    ),
    (
        "plugin_exits",
        grid("plugins: [bad_plugin_exits]"),
        {"bad_plugin_exits.py": "import sys\nsys.exit(3)\n"},
        DRY,
        {},
        "Plugin module 'bad_plugin_exits' failed to import: SystemExit: 3",
    ),
    (
        "plugin_missing_dependency",
        grid("plugins: [bad_plugin_dep]"),
        {"bad_plugin_dep.py": "import not_installed_dep_xyz\n"},
        DRY,
        {},
        "Plugin module 'bad_plugin_dep' failed to import: ModuleNotFoundError: No module named 'not_installed_dep_xyz'",
    ),
    (
        "plugin_registers_taken_key",
        grid("plugins: [bad_plugin_dup]"),
        {
            "bad_plugin_dup.py": "import methods\n@methods.register('ae')\nclass Mine(methods.get('ae')):\n    pass\n"
        },
        DRY,
        {},
        "Method 'ae' is already registered by methods.ae.AE; cannot register bad_plugin_dup.Mine",
    ),
    # --- YAML whose cost or shape is unbounded --------------------------------------------------------------------
    (
        "yaml_alias_bomb",
        BOMB + "name: bad\nseeds: *b9\nexperiments: []\n",
        {},
        DRY,
        {},
        "more than 100 alias",
    ),
    (
        "yaml_nested_20000_deep",
        "name: bad\nexperiments: " + "[" * 20000 + "]" * 20000 + "\n",
        {},
        DRY,
        {},
        "nesting deeper than 40 levels",
    ),
    ("yaml_int_and_str_keys", grid("1: 2"), {}, DRY, {}, "the key 1 is not a string"),
    # --- values checked for what they mean ------------------------------------------------------------------------
    (
        "latent_dim_huge",
        grid(exp=exp(model="{arch: mlp, latent_dim: 100000000000000000000}")),
        {},
        DRY,
        {},
        "latent_dim must be a positive integer <= 65536",
    ),
    (
        "hidden_huge",
        grid(exp=exp(model="{arch: mlp, latent_dim: 2, hidden: [10000000]}")),
        {},
        DRY,
        {},
        "model.hidden must be a list of at most",
    ),
    (
        "data_class_partly_absent",
        grid(exp=exp(data="{train: {name: digits, classes: [0, 42]}}")),
        {},
        DRY,
        {},
        "digits has no class [42]",
    ),
    (
        "data_limit_above_size",
        grid(exp=exp(data="{train: {name: digits, limit: 100000}}")),
        {},
        DRY,
        {},
        "100000 training images asked for",
    ),
    (
        "knn_labels_beyond_data",
        grid(exp=exp(task="knn", task_params="{labels_per_class: [1, 50]}")),
        {},
        DRY,
        {},
        "knn.labels_per_class [50] would label every validation point",
    ),
    (
        "scaling_fit_min_side_above_sides",
        grid(
            exp="{name: s, task: hessian_scaling, task_params: {sides: [8, 16], fit_min_side: 64}}"
        ),
        {},
        DRY,
        {},
        "fit_min_side 64 leaves 0 of the sides",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_exit_2(case, tmp_path, monkeypatch, capsys, request):
    check(case, tmp_path, monkeypatch, capsys, request)
