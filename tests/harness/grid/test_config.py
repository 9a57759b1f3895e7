"""Grid validation: every bad input fails with its key path, and the CLI exits 2 with one line."""

import textwrap

import pytest

from harness.grid.config import ConfigError, parse_grid
from tests.conftest import run_cli

GOOD = {
    "name": "t",
    "experiments": [
        {
            "name": "e",
            "task": "reconstruction",
            "data": {"train": "synthetic"},
            "model": {"arch": "mlp", "latent_dim": 2},
            "methods": {"ae": {}},
        }
    ],
}


def _with(path, value):
    import copy

    grid = copy.deepcopy(GOOD)
    target = grid
    keys = path.split(".")
    for k in keys[:-1]:
        target = target[int(k)] if isinstance(target, list) else target.setdefault(k, {})
    target[keys[-1]] = value
    return grid


def test_good_grid_parses_with_defaults():
    grid = parse_grid(GOOD)
    exp = grid.experiments[0]
    assert exp.train["lr"] == 1e-3 and exp.train["plateau"] == {"factor": 0.5, "patience": 5}
    assert exp.seeds == [0] and exp.resources == {"cpu": 1, "gpu": 0}


@pytest.mark.parametrize(
    "path,value,message",
    [
        ("train", {"lr": -0.001}, r"train.lr must be a positive number. Got -0.001"),
        (
            "experiments.0.train",
            {"batch_size": 0},
            r"experiments\[0\].train.batch_size must be a positive integer",
        ),
        (
            "experiments.0.methods",
            {"aee": {}},
            r"experiments\[0\].methods.aee: Unknown method 'aee'. Available:",
        ),
        ("experiments.0.task", "nope", r"experiments\[0\].task: Unknown task 'nope'"),
        (
            "experiments.0.model",
            {"arch": "resnet", "latent_dim": 2},
            r"Unknown architecture 'resnet'",
        ),
        (
            "experiments.0.model",
            {"arch": "mlp", "latent_dim": 0},
            r"latent_dim must be a positive integer",
        ),
        (
            "experiments.0.data",
            {"train": "cifar"},
            r"experiments\[0\].data.train.name must be one of",
        ),
        ("seeds", [0, 0], r"seeds must not repeat a seed"),
        ("resources", {"cpu": 0}, r"resources.cpu must be a positive number"),
        ("resources", {"tpu": 1}, r"resources: unknown key\(s\) \['tpu'\]"),
        (
            "experiments.0.methods",
            {"ae": {"bogus": 1}},
            r"Unknown parameter\(s\) \['bogus'\] for method 'ae'",
        ),
        ("bogus_key", 1, r"grid: unknown key\(s\) \['bogus_key'\]"),
        (
            "experiments.0.task_params",
            {"n_samples": 3, "zzz": 1},
            r"task_params: Unknown parameter",
        ),
    ],
)
def test_bad_values_name_the_key_path(path, value, message):
    with pytest.raises(ConfigError, match=message):
        parse_grid(_with(path, value))


def test_duplicate_experiment_names():
    grid = _with("experiments", GOOD["experiments"] * 2)
    with pytest.raises(ConfigError, match=r"experiments\[1\].name must be unique"):
        parse_grid(grid)


@pytest.mark.parametrize(
    "content,needle",
    [
        ("name: x\nexperiments: [\n", "malformed YAML at line"),
        (
            "name: x\nexperiments:\n  - {name: e, task: reconstruction, data: {train: synthetic}, "
            "model: {arch: mlp, latent_dim: 2}, methods: {lae_onlin: {}}}\n",
            "Unknown method 'lae_onlin'",
        ),
        ("name: x\ntrain: {lr: -1}\nexperiments: []\n", "train.lr must be a positive number"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(tmp_path, content, needle):
    grid = tmp_path / "bad.yaml"
    grid.write_text(content)
    proc = run_cli("run", "--grid", grid, "--results", tmp_path / "r", "--dry-run")
    assert proc.returncode == 2, proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_missing_grid_file_and_missing_dataset(tmp_path):
    proc = run_cli("run", "--grid", tmp_path / "nope.yaml", "--dry-run")
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    grid = tmp_path / "g.yaml"
    grid.write_text(
        textwrap.dedent("""
        name: g
        experiments:
          - {name: e, task: reconstruction, data: {train: mnist}, model: {arch: mlp, latent_dim: 2}, methods: {ae: {}}}
    """)
    )
    empty_root = tmp_path / "empty"
    empty_root.mkdir()
    proc = run_cli("run", "--grid", grid, "--data-root", empty_root, "--dry-run")
    assert proc.returncode == 2, proc.stderr
    assert "MNIST files not found under" in proc.stderr and "--data-root" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
