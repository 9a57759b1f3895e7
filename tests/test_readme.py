"""The README's examples run: the method plugin trains, samples and validates in a grid."""
import re
import sys
import textwrap

import torch

from harness.config import load_grid
from harness.data import load_dataset
from tests.conftest import ROOT


def _block_after(heading: str) -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index(heading):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_method_example_is_a_working_plugin(tmp_path, monkeypatch):
    (tmp_path / "my_methods.py").write_text(_block_after("## Adding a method"))
    (tmp_path / "grid.yaml").write_text(textwrap.dedent("""
        name: readme
        plugins: [my_methods]
        train: {max_epochs: 2}
        experiments:
          - {name: e, task: reconstruction, data: {train: synthetic}, model: {arch: mlp, latent_dim: 2, hidden: [8]},
             methods: {noisy_ae: {latent_noise: 0.2}}}
    """))
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


def test_readme_pandas_example_names_real_columns():
    from harness.leaderboard import BOARD_COLUMNS, RAW_COLUMNS

    code = _block_after("## Reading the leaderboard with pandas")
    listed = re.search(r"# columns: (.*)", code).group(1).split(", ")
    assert listed == BOARD_COLUMNS
    for col in ("status", "trial_id", "error", "git_commit", "versions", "device"):
        assert col in RAW_COLUMNS
