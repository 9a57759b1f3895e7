"""Evaluating models along their training (`snapshots:`): one trial per epoch, each from the snapshot the training
kept (`train.snapshot_every`), recorded with that snapshot's checksum, done once; a grid asking for an epoch the
training does not keep is refused before anything runs."""

from __future__ import annotations

import json
import textwrap

import pandas as pd

from tests.conftest import run_cli

GRID = textwrap.dedent("""
    name: along
    seeds: [0]
    train: {max_epochs: 3, batch_size: 32, snapshot_every: 1}
    experiments:
      - name: recon
        task: reconstruction
        data: {train: synthetic}
        model: {arch: mlp, latent_dim: 2, hidden: [16, 8]}
        snapshots: [1, 3]
        methods: {ae: {}}
""")


def test_snapshots_are_evaluated_once_each(tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text(GRID)
    results = tmp_path / "res"
    args = ("run", "--grid", grid, "--results", results, "--executor", "local")
    first = run_cli(*args)
    assert first.returncode == 0, first.stdout + first.stderr
    records = sorted((results / "along" / "trials").glob("*.json"))
    assert [r.name for r in records] == [
        "recon__ae__seed0__epoch=1.json",
        "recon__ae__seed0__epoch=3.json",
    ]
    (model,) = (results / "models").glob("ae-*")
    index = json.loads((model / "snapshots" / "index.json").read_text())
    assert sorted(v["epoch"] for v in index.values()) == [1, 2, 3]
    for path, epoch in zip(records, (1, 3)):
        record = json.loads(path.read_text())
        assert record["point"] == {"epoch": epoch}
        assert record["model_sha256"] == index[f"epoch-{epoch:03d}.pt"]["sha256"]
    raw = pd.read_csv(results / "along" / "raw.csv").set_index("metric").value
    assert raw["mse@epoch=1"] != raw["mse@epoch=3"]  # two different networks, each its own number
    board = pd.read_csv(results / "along" / "leaderboard.csv")
    rows = board[board.measure == "mse"]
    assert sorted(rows.sweep_value) == [1.0, 3.0] and set(rows.sweep) == {"epoch"}  # never averaged
    again = run_cli(*args)
    assert again.returncode == 0 and "0 to run" in again.stdout, again.stdout


def test_an_epoch_the_training_does_not_keep_is_refused(tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text(GRID.replace("snapshot_every: 1", "snapshot_every: 2"))
    done = run_cli("run", "--grid", grid, "--results", tmp_path / "res")
    assert done.returncode == 2
    assert "snapshots has epochs [1, 3] that ae's training does not keep" in done.stderr, (
        done.stderr
    )
