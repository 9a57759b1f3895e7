"""The README's examples run: the method plugin trains, samples, validates in a grid and passes `check_method`."""

import re
import textwrap

import torch

from harness.datasets import load_dataset
from harness.grid.config import load_grid
from tests.conftest import ROOT


def _blocks_after(heading: str) -> list[str]:
    """The python code blocks of one README section (from `heading` to the next `## `)."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index(heading) :]
    end = section.find("\n## ", len(heading))
    return re.findall(r"```python\n(.*?)```", section if end < 0 else section[:end], re.S)


def _block_after(heading: str) -> str:
    return _blocks_after(heading)[0]


def _plugin() -> str:
    """The README's method plugin (the quick start's step 3, indented in its list)."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    return textwrap.dedent(next(b for b in blocks if '@methods.register("noisy_ae")' in b))


def test_readme_method_example_is_a_working_plugin(tmp_path, monkeypatch, scoped_registries):
    (tmp_path / "my_methods.py").write_text(_plugin())
    (tmp_path / "grid.yaml").write_text(
        textwrap.dedent("""
        name: readme
        plugins: [my_methods]
        train: {max_epochs: 2}
        experiments:
          - {name: e, task: reconstruction, data: {train: synthetic}, model: {arch: mlp, latent_dim: 2, hidden: [8]},
             methods: {noisy_ae: {latent_noise: 0.2}}}
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    grid = load_grid(tmp_path / "grid.yaml")
    exp = grid.experiments[0]
    import methods

    spec = exp.spec(exp.methods[0], 0)
    data = load_dataset("synthetic")
    method = methods.get("noisy_ae")(spec, data.image_shape).fit(data)
    s = method.sample(data.test_x[:5], 4, seed=1)
    assert s.latents.shape == (4, 5, 2) and s.recon.shape == (4, 5, 1, 8, 8)
    assert s.latents.var(0).mean() > 0
    assert torch.equal(s.recon, method.sample(data.test_x[:5], 4, seed=1).recon)


def test_readme_check_method_example_passes_on_the_plugin(tmp_path, monkeypatch, scoped_registries):
    """The README's `check_method` call, run as written on its plugin example (the contract checks)."""
    plugin, check = (
        _plugin(),
        _block_after("## Adding a method"),
    )  # the plugin, the check_method call
    assert "check_method_in_tasks(NoisyAE)" in check
    (tmp_path / "my_methods.py").write_text(plugin)
    monkeypatch.syspath_prepend(str(tmp_path))
    exec(compile(check, "README.md", "exec"), {})
    import methods

    assert methods.get("noisy_ae").__module__ == "my_methods"


def test_check_method_fails_on_a_broken_plugin(tmp_path, monkeypatch, scoped_registries):
    """The same check on the plugin with its noise switched off: `stochastic = True` is then a false claim."""
    import pytest

    from methods.testing import check_method

    block = _plugin()
    plugin = block.replace("Param(0.1,", "Param(0.0,")
    assert plugin != block
    (tmp_path / "my_methods.py").write_text(plugin)
    monkeypatch.syspath_prepend(str(tmp_path))
    from my_methods import NoisyAE

    with pytest.raises(AssertionError, match="stochastic = True, but its 3 samples are identical"):
        check_method(NoisyAE, load_dataset("synthetic"))


def test_readme_pandas_example_names_real_columns():
    from harness.report.leaderboard import BOARD_COLUMNS, RAW_COLUMNS

    code = _block_after("## Reading the leaderboard with pandas")
    listed = re.search(r"# columns: (.*)", code).group(1).split(", ")
    assert listed == BOARD_COLUMNS
    for col in ("status", "trial_id", "error", "git_commit", "versions", "device"):
        assert col in RAW_COLUMNS


def test_readme_pandas_snippet_runs_and_keeps_experiments_apart(tmp_path, monkeypatch, capsys):
    """The snippet itself, on leaderboards aggregated from records of two experiments that share a metric name:
    its pivot shows one experiment's mse (2.0 for ae), not the mean over both (3.5)."""
    import pandas as pd

    from harness.report.leaderboard import RAW_COLUMNS, aggregate

    def row(experiment, task, metric, value, seed):
        return dict(
            experiment=experiment,
            task=task,
            dataset="digits",
            arch="mlp",
            method="ae",
            seed=seed,
            point="{}",
            metric=metric,
            value=value,
            status="ok",
            trial_id=f"{experiment}/ae/seed{seed}",
            git_commit="abc123",
            versions="torch=2.14.1",
            device="cpu",
            config_hash="c0ffee",
        )

    raw = pd.DataFrame(
        [row("recon-digits", "reconstruction", "mse", 2.0 + 0.1 * s, s) for s in (0, 1)]
        + [row("imputation-digits", "imputation", "mse", 5.0, s) for s in (0, 1)]
        + [
            row("ood-digits", "ood", f"auroc/{sc}", 0.8, s)
            for sc in ("log_px", "ink")
            for s in (0, 1)
        ]
        + [row("ood-digits", "ood", "auroc/authors/log_px", 0.7, s) for s in (0, 1)],
        columns=RAW_COLUMNS,
    )
    (tmp_path / "results" / "demo").mkdir(parents=True)
    raw.to_csv(tmp_path / "results" / "demo" / "raw.csv", index=False)
    aggregate(raw).to_csv(tmp_path / "results" / "demo" / "leaderboard.csv", index=False)
    monkeypatch.chdir(tmp_path)
    exec(_block_after("## Reading the leaderboard with pandas"), {})
    out = capsys.readouterr().out
    assert "2.05" in out and "3.5" not in out
    assert "ink" in out and "log_px" in out and "0.7" not in out  # ours only, by the tidy columns
    assert "abc123" in out
    board = pd.read_csv(tmp_path / "results" / "demo" / "leaderboard.csv")
    assert set(board.git_commit) == {"abc123"} and set(board.device) == {
        "cpu"
    }  # provenance per row
