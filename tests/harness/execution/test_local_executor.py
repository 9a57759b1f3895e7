"""The local executor (`run --executor local`): the same plan, store, records and summary as Ray Tune, trials one
after another in this process without Ray. A grid run by both gives the same leaderboard, number for number; what
needs Ray Tune (a search) is refused before anything runs; a cached rerun starts no backend at all."""

from __future__ import annotations

import textwrap

import pandas as pd

from tests.conftest import run_cli

GRID = textwrap.dedent("""
    name: both
    seeds: [0, 1]
    train: {max_epochs: 2, batch_size: 32}
    experiments:
      - name: recon
        task: reconstruction
        data: {train: synthetic}
        model: {arch: mlp, latent_dim: 2, hidden: [16, 8]}
        methods: {ae: {}, vae: {}, lae_online: {hessian: exact}, lae_posthoc: {hessian: exact}}
      - name: knn
        task: knn
        task_params: {labels_per_class: [1, 2], repetitions: 2, n_embed: 3}
        data: {train: synthetic}
        model: {arch: mlp, latent_dim: 2, hidden: [16, 8]}
        methods: {ae: {}, lae_online: {hessian: exact}}
""")
# provenance that differs between two runs by nature (when, how long, which process)
RUN_COLUMNS = {"run_id", "wall_time_s", "finished", "pid", "host", "started"}


def _board(results) -> pd.DataFrame:
    board = pd.read_csv(results / "both" / "leaderboard.csv")
    return board.drop(columns=[c for c in board if c in RUN_COLUMNS]).sort_values(
        ["experiment", "method", "metric"], ignore_index=True
    )


def test_local_and_ray_give_the_same_leaderboard(tmp_path, ray_address):
    grid = tmp_path / "grid.yaml"
    grid.write_text(GRID)
    local = run_cli("run", "--grid", grid, "--results", tmp_path / "local", "--executor", "local")
    assert local.returncode == 0, local.stdout + local.stderr
    tune = run_cli("run", "--grid", grid, "--results", tmp_path / "ray", "--address", ray_address)
    assert tune.returncode == 0, tune.stdout + tune.stderr
    a, b = _board(tmp_path / "local"), _board(tmp_path / "ray")
    assert len(a) > 20
    pd.testing.assert_frame_equal(a, b, check_exact=True)  # bitwise on the CPU


def test_a_cached_rerun_starts_no_backend(tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text(GRID.replace("seeds: [0, 1]", "seeds: [0]"))
    args = ("run", "--grid", grid, "--results", tmp_path / "res")
    assert run_cli(*args, "--executor", "local").returncode == 0
    again = run_cli(*args, env={"RAY_ADDRESS": "127.0.0.1:1"})  # a Ray start would fail on this
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 to train" in again.stdout and "0 to run" in again.stdout


def test_a_search_needs_ray_tune(tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text(
        GRID.replace("lae_online: {hessian: exact}, lae_posthoc: {hessian: exact}", "").replace(
            "ae: {}, vae: {}, ", "ae: {}, vae: {kl_weight: {loguniform: [1.0e-4, 1.0e-2]}}"
        )
    )
    done = run_cli("run", "--grid", grid, "--results", tmp_path / "res", "--executor", "local")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "needs Ray Tune: run it without --executor local" in done.stderr
    assert not (tmp_path / "res" / "models").exists()
