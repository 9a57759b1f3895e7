"""Per-method training settings in a grid (`methods.<label>.train`), e.g. the authors' lr 1e-4 / batch 100
for the conv online LAE: they override the experiment's settings for that row only and change its model key."""

from __future__ import annotations

import pytest

from harness.grid.config import ConfigError, load_grid

GRID = """
name: t
train: {lr: 1.0e-3, batch_size: 64, max_epochs: 3}
experiments:
  - name: e
    task: reconstruction
    data: {train: synthetic}
    model: {arch: mlp, latent_dim: 2, hidden: [8]}
    train: {max_epochs: 2}
    methods:
      ae: {}
      lae_online: {train: {lr: 1.0e-4, batch_size: 100, plateau: {patience: 2}}}
      lae_plain: {method: lae_online}
"""


def _grid(tmp_path, text):
    path = tmp_path / "grid.yaml"
    path.write_text(text)
    return load_grid(path)


def test_method_train_overrides_the_experiment_for_that_row(tmp_path):
    exp = _grid(tmp_path, GRID).experiments[0]
    specs = {m.label: exp.spec(m, 0) for m in exp.methods}
    assert specs["ae"].train["lr"] == 1e-3 and specs["ae"].train["max_epochs"] == 2
    own = specs["lae_online"].train
    assert (
        own["lr"] == 1e-4 and own["batch_size"] == 100 and own["max_epochs"] == 2
    )  # inherits the rest
    assert own["plateau"] == {"factor": 0.5, "patience": 2}
    assert specs["lae_plain"].train == specs["ae"].train
    assert specs["lae_online"].key != specs["lae_plain"].key  # another model, trained separately
    assert "train" not in specs["lae_online"].params


def test_bad_method_train_names_its_key_path(tmp_path):
    with pytest.raises(
        ConfigError, match=r"experiments\[0\].methods.lae_online.train.lr must be a positive number"
    ):
        _grid(tmp_path, GRID.replace("lr: 1.0e-4, batch_size: 100", "lr: -1"))
