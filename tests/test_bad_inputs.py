"""Every kind of bad input a user can give exits 2 with one `error: ...` line and no traceback.

Each case is (id, grid text or None, extra files, CLI arguments, environment, a phrase the line must hold).
`{tmp}` in arguments is the test's folder; `{grid}` the grid file. Grids run with `--dry-run`, so nothing is
trained; the cases that need Ray (a GPU request, a reachable address) use the session's shared instance.
"""

from __future__ import annotations

import gzip
import os
import socket
import textwrap

import pytest

from harness.cli import main

EXP = (
    "{name: e, task: reconstruction, data: {train: synthetic}, model: {arch: mlp, latent_dim: 2, hidden: [8]}, "
    "methods: {ae: {}}}"
)


def grid(top: str = "", exp: str = EXP) -> str:
    """A valid tiny grid with `top` lines added, and its one experiment replaced by `exp`."""
    return f"name: bad\n{top}\nexperiments:\n  - {exp}\n"


def exp(**parts) -> str:
    base = {
        "name": "e",
        "task": "reconstruction",
        "data": "{train: synthetic}",
        "model": "{arch: mlp, latent_dim: 2, hidden: [8]}",
        "methods": "{ae: {}}",
    }
    base.update(parts)
    return "{" + ", ".join(f"{k}: {v}" for k, v in base.items() if v is not None) + "}"


DRY = ["run", "--grid", "{grid}", "--results", "{tmp}/res", "--dry-run"]

CASES = [
    # --- the command line ---------------------------------------------------------------------------------------
    ("no_command", None, {}, [], {}, "required: command"),
    ("unknown_command", None, {}, ["frobnicate"], {}, "invalid choice: 'frobnicate'"),
    ("unknown_flag", grid(), {}, [*DRY, "--bogus"], {}, "unrecognized arguments: --bogus"),
    ("flag_without_value", None, {}, ["run", "--grid"], {}, "--grid: expected one argument"),
    ("address_malformed", grid(), {}, [*DRY[:-1], "--address", "nohostport"], {}, "HOST:PORT"),
    (
        "address_unreachable",
        grid(),
        {},
        [*DRY[:-1], "--address", "127.0.0.1:{free_port}"],
        {},
        "no Ray head node answers",
    ),
    ("env_lock_lease", grid(), {}, DRY, {"LAEBENCH_LOCK_LEASE_S": "soon"}, "LAEBENCH_LOCK_LEASE_S"),
    ("env_num_cpus", grid(), {}, DRY, {"LAEBENCH_NUM_CPUS": "many"}, "LAEBENCH_NUM_CPUS"),
    # --- the grid file --------------------------------------------------------------------------------------------
    (
        "grid_missing",
        None,
        {},
        ["run", "--grid", "{tmp}/nope.yaml", "--dry-run"],
        {},
        "does not exist",
    ),
    ("grid_is_a_folder", None, {}, ["run", "--grid", "{tmp}", "--dry-run"], {}, "is not a file"),
    ("grid_not_text", b"\xff\xfe\x00name", {}, DRY, {}, "not UTF-8"),
    ("grid_empty", "", {}, DRY, {}, "grid must be a mapping"),
    ("grid_a_list", "- a\n- b\n", {}, DRY, {}, "grid must be a mapping"),
    ("yaml_malformed", "name: x\nexperiments: [\n", {}, DRY, {}, "malformed YAML at line"),
    (
        "yaml_duplicate_key",
        grid("train: {lr: 0.1}\ntrain: {lr: 0.2}"),
        {},
        DRY,
        {},
        "duplicate key 'train'",
    ),
    ("unknown_top_key", grid("bogus: 1"), {}, DRY, {}, "unknown key(s) ['bogus']"),
    ("name_dot_dot", grid().replace("name: bad", "name: '..'"), {}, DRY, {}, "name must be a name"),
    (
        "name_with_slash",
        grid().replace("name: bad", "name: a/b"),
        {},
        DRY,
        {},
        "name must be a name",
    ),
    ("seeds_string", grid("seeds: abc"), {}, DRY, {}, "seeds must be a non-empty list"),
    ("seeds_bool", grid("seeds: [true]"), {}, DRY, {}, "seeds must be a non-empty list"),
    ("seeds_too_large", grid("seeds: [4294967296]"), {}, DRY, {}, "seeds must be a non-empty list"),
    ("seeds_repeated", grid("seeds: [1, 1]"), {}, DRY, {}, "must not repeat a seed"),
    (
        "resources_cpu_word",
        grid("resources: {cpu: two}"),
        {},
        DRY,
        {},
        "resources.cpu must be a positive number",
    ),
    (
        "resources_cpu_nan",
        grid("resources: {cpu: .nan}"),
        {},
        DRY,
        {},
        "resources.cpu must be a positive number",
    ),
    (
        "resources_gpu_negative",
        grid("resources: {gpu: -1}"),
        {},
        DRY,
        {},
        "resources.gpu must be a number >= 0",
    ),
    ("resources_unknown", grid("resources: {tpu: 1}"), {}, DRY, {}, "unknown key(s) ['tpu']"),
    ("train_lr_word", grid("train: {lr: fast}"), {}, DRY, {}, "train.lr must be a positive number"),
    ("train_lr_inf", grid("train: {lr: .inf}"), {}, DRY, {}, "train.lr must be a positive number"),
    (
        "train_batch_float",
        grid("train: {batch_size: 1.5}"),
        {},
        DRY,
        {},
        "train.batch_size must be a positive",
    ),
    (
        "train_patience_bool",
        grid("train: {plateau: {patience: true}}"),
        {},
        DRY,
        {},
        "plateau.patience",
    ),
    ("train_unknown_key", grid("train: {epochs: 3}"), {}, DRY, {}, "unknown key(s) ['epochs']"),
    # --- experiments ----------------------------------------------------------------------------------------------
    ("experiments_missing", "name: bad\n", {}, DRY, {}, "experiments must be a non-empty list"),
    (
        "experiments_mapping",
        "name: bad\nexperiments: {a: 1}\n",
        {},
        DRY,
        {},
        "experiments must be a non-empty list",
    ),
    (
        "experiment_not_mapping",
        "name: bad\nexperiments: [1]\n",
        {},
        DRY,
        {},
        "experiments[0] must be a mapping",
    ),
    (
        "experiment_name_dot",
        grid(exp=exp(name="'.hidden'")),
        {},
        DRY,
        {},
        "experiments[0].name must be",
    ),
    (
        "experiment_names_repeat",
        f"name: bad\nexperiments: [{EXP}, {EXP}]\n",
        {},
        DRY,
        {},
        "must be unique",
    ),
    ("task_unknown", grid(exp=exp(task="nope")), {}, DRY, {}, "Unknown task 'nope'"),
    (
        "task_a_list",
        grid(exp=exp(task="[a]")),
        {},
        DRY,
        {},
        "experiments[0].task must be a task name",
    ),
    (
        "task_params_unknown",
        grid(exp=exp(task_params="{zzz: 1}")),
        {},
        DRY,
        {},
        "task_params: Unknown parameter",
    ),
    # --- data ---------------------------------------------------------------------------------------------------
    (
        "data_missing",
        grid(exp=exp(data=None)),
        {},
        DRY,
        {},
        "data must be a mapping with a 'train' dataset",
    ),
    (
        "data_unknown_dataset",
        grid(exp=exp(data="{train: cifar}")),
        {},
        DRY,
        {},
        "data.train.name must be one of",
    ),
    (
        "data_name_a_list",
        grid(exp=exp(data="{train: {name: [digits]}}")),
        {},
        DRY,
        {},
        "data.train.name",
    ),
    (
        "data_classes_absent",
        grid(exp=exp(data="{train: {name: digits, classes: [42]}}")),
        {},
        DRY,
        {},
        "digits has no class [42]",
    ),
    (
        "data_classes_bool",
        grid(exp=exp(data="{train: {name: digits, classes: [true]}}")),
        {},
        DRY,
        {},
        "data.train.classes must be",
    ),
    (
        "data_limit_zero",
        grid(exp=exp(data="{train: {name: digits, limit: 0}}")),
        {},
        DRY,
        {},
        "data.train.limit must be a positive integer",
    ),
    (
        "data_files_missing",
        grid(exp=exp(data="{train: mnist}")),
        {},
        [*DRY, "--data-root", "{tmp}/empty"],
        {},
        "MNIST files not found",
    ),
    (
        "data_root_is_a_file",
        grid(),
        {"afile": "x"},
        [*DRY, "--data-root", "{tmp}/afile"],
        {},
        "is a file",
    ),
    ("data_root_missing", grid(), {}, [*DRY, "--data-root", "{tmp}/no/such"], {}, "does not exist"),
    # --- model ------------------------------------------------------------------------------------------------
    (
        "model_missing",
        grid(exp=exp(model=None)),
        {},
        DRY,
        {},
        "experiments[0].model must be a mapping",
    ),
    (
        "model_arch_unknown",
        grid(exp=exp(model="{arch: resnet, latent_dim: 2}")),
        {},
        DRY,
        {},
        "Unknown architecture 'resnet'",
    ),
    (
        "latent_dim_negative",
        grid(exp=exp(model="{arch: mlp, latent_dim: -3}")),
        {},
        DRY,
        {},
        "latent_dim must be a positive integer",
    ),
    (
        "latent_dim_bool",
        grid(exp=exp(model="{arch: mlp, latent_dim: true}")),
        {},
        DRY,
        {},
        "latent_dim must be a positive integer",
    ),
    (
        "hidden_a_word",
        grid(exp=exp(model="{arch: mlp, latent_dim: 2, hidden: abc}")),
        {},
        DRY,
        {},
        "model.hidden must be a list of at most 64 positive integers",
    ),
    (
        "hidden_zero_width",
        grid(exp=exp(model="{arch: mlp, latent_dim: 2, hidden: [0]}")),
        {},
        DRY,
        {},
        "model.hidden must be a list of at most 64 positive integers",
    ),
    (
        "kernel_even",
        grid(exp=exp(model="{arch: conv, latent_dim: 2, kernel_size: 4}")),
        {},
        DRY,
        {},
        "kernel_size must be a positive odd integer",
    ),
    (
        "arch_too_deep_for_images",
        grid(exp=exp(data="{train: digits}", model="{arch: conv_celeba, latent_dim: 2}")),
        {},
        DRY,
        {},
        "does not fit digits images",
    ),
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
    # --- results and store folders -------------------------------------------------------------------------------
    (
        "results_is_a_file",
        grid(),
        {"afile": "x"},
        ["run", "--grid", "{grid}", "--results", "{tmp}/afile"],
        {},
        "is a file, not a folder",
    ),
    (
        "results_under_a_file",
        grid(),
        {"afile": "x"},
        ["run", "--grid", "{grid}", "--results", "{tmp}/afile/sub"],
        {},
        "is a file, so the folder cannot be created",
    ),
    (
        "results_not_writable",
        grid(),
        {},
        ["run", "--grid", "{grid}", "--results", "{tmp}/locked/res"],
        {},
        "no permission to write",
    ),
    ("report_missing_folder", None, {}, ["report", "{tmp}/nope"], {}, "No trial records"),
    ("verify_missing_folder", None, {}, ["verify", "{tmp}/nope"], {}, "is not a folder"),
    (
        "verify_not_a_store",
        None,
        {"empty/.keep": ""},
        ["verify", "{tmp}/empty"],
        {},
        "holds no model entries",
    ),
    ("verify_a_file", None, {"afile": "x"}, ["verify", "{tmp}/afile"], {}, "is not a folder"),
]
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"b{i}: &b{i} [{', '.join(['*' + ('a' if i == 1 else f'b{i - 1}')] * 12)}]\n"
    for i in range(1, 10)
)
TRUNCATED_GZ = {
    f"data/MNIST/raw/{stem}.gz": gzip.compress(b"\x00" * 4000)[:30]
    for stem in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    )
}
RECORD = (
    '{"trial_id": "e/ae/seed0", "experiment": "e", "task": "reconstruction", "label": "ae", "seed": 0, '
    '"status": "ok", "metrics": [], "dataset": "d", "arch": "mlp", "method_key": "ae", "method_params": {}, '
    '"task_params": {}}'
)
CASES += [
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
    # --- names and paths --------------------------------------------------------------------------------------------
    (
        "experiment_name_nul",
        grid(exp=exp(name='"a\\0b"')),
        {},
        DRY,
        {},
        "experiments[0].name must be a name",
    ),
    (
        "experiment_name_newline",
        grid(exp=exp(name='"a\\nb"')),
        {},
        DRY,
        {},
        "experiments[0].name must be a name",
    ),
    (
        "experiment_name_300_chars",
        grid(exp=exp(name="e" * 300)),
        {},
        DRY,
        {},
        "at most 100 characters",
    ),
    (
        "grid_name_300_chars",
        grid().replace("name: bad", "name: " + "g" * 300),
        {},
        DRY,
        {},
        "at most 100 characters",
    ),
    (
        "method_label_300_chars",
        grid(exp=exp(methods="{" + "m" * 300 + ": {method: ae}}")),
        {},
        DRY,
        {},
        "at most 100 characters",
    ),
    (
        "results_symlink_loop",
        grid(),
        {},
        ["run", "--grid", "{grid}", "--results", "{tmp}/loop/res", "--dry-run"],
        {},
        "--results {tmp}/loop/res is a symlink loop",
    ),
    (
        "data_root_symlink_loop",
        grid(),
        {},
        [*DRY, "--data-root", "{tmp}/loop"],
        {},
        "is a symlink loop",
    ),
    (
        "env_data_is_a_file",
        grid(),
        {"afile": "x"},
        DRY,
        {"LAEBENCH_DATA": "{tmp}/afile"},
        "LAEBENCH_DATA=",
    ),
    (
        "env_cache_is_a_file",
        grid(),
        {"afile": "x"},
        DRY,
        {"LAEBENCH_CACHE": "{tmp}/afile"},
        "LAEBENCH_CACHE=",
    ),
    # --- data files ---------------------------------------------------------------------------------------------
    (
        "data_gz_truncated",
        grid(exp=exp(data="{train: mnist}")),
        TRUNCATED_GZ,
        [*DRY, "--data-root", "{tmp}/data"],
        {},
        "train-images-idx3-ubyte.gz is truncated. Replace it with an intact copy",
    ),
    # --- cluster ------------------------------------------------------------------------------------------------
    (
        "address_auto_stale_env",
        grid(),
        {},
        [*DRY[:-1], "--address", "auto"],
        {"RAY_ADDRESS": "127.0.0.1:{free_port}"},
        "--address auto (RAY_ADDRESS: 127.0.0.1:",
    ),
    # --- report and verify agree ----------------------------------------------------------------------------------
    (
        "report_no_records",
        None,
        {"run/trials/.keep": ""},
        ["report", "{tmp}/run"],
        {},
        "No trial records",
    ),
    (
        "report_damaged_record",
        None,
        {"run/trials/e__ae__seed0.json": '{"trial_id": "e/a'},
        ["report", "{tmp}/run"],
        {},
        "e__ae__seed0.json: unreadable trial record",
    ),
    (
        "report_record_not_a_mapping",
        None,
        {"run/trials/x.json": "[1, 2]"},
        ["report", "{tmp}/run"],
        {},
        "x.json: damaged trial record",
    ),
    (
        "report_damaged_plan",
        None,
        {"run/trials/e__ae__seed0.json": RECORD, "run/plan.json": '{"trials": [{"tri'},
        ["report", "{tmp}/run"],
        {},
        "plan.json: unreadable plan",
    ),
    (
        "verify_no_records",
        None,
        {"run/trials/.keep": ""},
        ["verify", "{tmp}/run"],
        {},
        "holds no model entries",
    ),
]
NEEDS_RAY = {"gpu_without_gpus"}
CASES.append(
    (
        "gpu_without_gpus",
        grid("resources: {cpu: 1, gpu: 1}"),
        {},
        ["run", "--grid", "{grid}", "--results", "{tmp}/res", "--address", "{ray}"],
        {},
        "asks for gpu: 1 per trial but the Ray cluster has 0 GPU(s)",
    )
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_exit_2(case, tmp_path, monkeypatch, capsys, request):
    name, text, files, args, env, needle = case
    if name == "results_not_writable":
        if os.geteuid() == 0:
            pytest.skip("root may write anywhere")
        (tmp_path / "locked").mkdir(mode=0o500)
    ray = request.getfixturevalue("ray_address") if name in NEEDS_RAY else ""
    (tmp_path / "empty").mkdir()
    (tmp_path / "loop").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop")
    for rel, content in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            (tmp_path / rel).write_bytes(content)
        else:
            (tmp_path / rel).write_text(content)
    grid_path = tmp_path / "grid.yaml"
    if isinstance(text, bytes):
        grid_path.write_bytes(text)
    elif text is not None:
        grid_path.write_text(textwrap.dedent(text))
    port = _free_port()
    for key, value in env.items():
        monkeypatch.setenv(key, value.format(tmp=tmp_path, free_port=port))
    monkeypatch.chdir(tmp_path)
    argv = [a.format(tmp=tmp_path, grid=grid_path, ray=ray, free_port=port) for a in args]
    needle = needle.format(tmp=tmp_path)
    capsys.readouterr()  # drop what setting up fixtures printed (Ray's start-up line)
    code = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (code, err)
    assert "Traceback" not in err, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert needle in lines[0], lines[0]
    assert len(err) < 2048, len(err)  # one short line, whatever the input held
    if name in ("results_is_a_file", "results_under_a_file", "gpu_without_gpus"):
        assert not (tmp_path / "res").exists()  # nothing written before the error


def test_plugin_paths_are_scoped(tmp_path, monkeypatch):
    """Loading a grid imports its plugins from its folder without leaving that folder on sys.path."""
    import sys

    from harness.grid.config import load_grid

    (tmp_path / "scoped_plugin_mod.py").write_text("VALUE = 1\n")
    (tmp_path / "grid.yaml").write_text(grid("plugins: [scoped_plugin_mod]"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    before = list(sys.path)
    load_grid(tmp_path / "grid.yaml")
    assert "scoped_plugin_mod" in sys.modules
    assert sys.path == before
