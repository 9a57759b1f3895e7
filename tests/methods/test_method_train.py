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


def test_a_method_row_may_run_fewer_seeds_and_training_goes_seed_by_seed(tmp_path):
    from harness.grid.plan import make_plan

    text = GRID.replace("name: t\n", "name: t\nseeds: [0, 1, 2]\n").replace(
        "lae_plain: {method: lae_online}", "lae_plain: {method: lae_online, seeds: [1]}"
    )
    plan = make_plan(_grid(tmp_path, text))
    seeds = {}
    for job in plan.evals:
        seeds.setdefault(job.label, []).append(job.seed)
    assert seeds == {"ae": [0, 1, 2], "lae_online": [0, 1, 2], "lae_plain": [1]}
    order = [s.seed for s in plan.train_layers[0]]
    assert order == sorted(order)  # a run stopped part-way has whole seeds
    with pytest.raises(ConfigError, match=r"lae_plain.seeds must be among the experiment's seeds"):
        _grid(tmp_path, text.replace("seeds: [1]}", "seeds: [7]}"))
