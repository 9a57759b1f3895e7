"""Bad grids (YAML, keys, experiments, data, models): exit 2 with one `error:` line, before Ray starts."""

from __future__ import annotations

import pytest

from tests.harness.bad_inputs import (
    DRY,
    EXP,
    check,
    exp,
    grid,
)

CASES = [
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
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_exit_2(case, tmp_path, monkeypatch, capsys, request):
    check(case, tmp_path, monkeypatch, capsys, request)


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
