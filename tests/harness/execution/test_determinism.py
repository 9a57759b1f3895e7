"""Same grid, same seeds, CPU: two independent runs give bitwise-identical leaderboards.

Covers a deterministic method (ae) and a stochastic one (vae: sampled training noise and test-time samples),
each trained in a Ray worker that may be reused between trials (`reuse_actors`), so leftover RNG state in a
reused worker would show up here. What is and is not bitwise reproducible on GPU: README, "Reproducibility".
"""

from __future__ import annotations

import pandas as pd

from harness.cli import main
from tests.conftest import tiny_grid


def test_same_grid_same_seed_cpu_gives_identical_leaderboard(tmp_path, capsys):
    grid = tiny_grid(tmp_path, name="det", seeds="[0, 1]", epochs=2, methods="{ae: {}, vae: {}}")
    boards, raws = [], []
    for folder in ("a", "b"):
        code = main(
            [
                "run",
                "--grid",
                str(grid),
                "--results",
                str(tmp_path / folder),
                "--executor",
                "local",
            ]
        )
        assert code == 0, capsys.readouterr().out
        boards.append(pd.read_csv(tmp_path / folder / "det" / "leaderboard.csv"))
        raws.append(
            pd.read_csv(tmp_path / folder / "det" / "raw.csv").sort_values(["trial_id", "metric"])
        )
    values = ["mean", "std", "ci95_low", "ci95_high"]
    assert len(boards[0]) == 4 and set(boards[0].method) == {"ae", "vae"}  # mse and log_px each
    assert boards[0][values].notna().all().all()
    pd.testing.assert_frame_equal(boards[0], boards[1], check_exact=True)
    assert raws[0].value.tolist() == raws[1].value.tolist()
    assert raws[0].model_key.tolist() == raws[1].model_key.tolist()
