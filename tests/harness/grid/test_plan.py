"""The plan's trial hashes: what determines a trial's result re-runs it when changed, and nothing else does."""

import copy

from harness.grid.config import parse_grid
from harness.grid.plan import make_plan

GRID = {
    "name": "t",
    "seeds": [0, 1],
    "experiments": [
        {
            "name": "e",
            "task": "reconstruction",
            "data": {"train": "synthetic"},
            "model": {"arch": "mlp", "latent_dim": 2},
            "methods": {"ae": {}, "vae": {"kl_weight": 1.0e-3, "seeds": [0]}},
        }
    ],
}


def _hashes(grid: dict) -> dict[str, str]:
    return {job.trial_id: job.config_hash for job in make_plan(parse_grid(grid)).evals}


def test_a_methods_own_seeds_choose_trials_without_changing_their_hash():
    before = _hashes(GRID)
    assert set(before) == {"e/ae/seed0", "e/ae/seed1", "e/vae/seed0"}
    more = copy.deepcopy(GRID)
    more["experiments"][0]["methods"]["vae"]["seeds"] = [0, 1]
    after = _hashes(more)
    assert set(after) == set(before) | {"e/vae/seed1"}
    assert all(after[t] == h for t, h in before.items())  # adding a seed re-runs no done trial
    changed = copy.deepcopy(GRID)
    changed["experiments"][0]["methods"]["vae"]["kl_weight"] = 1.0e-2
    moved = _hashes(changed)
    assert (
        moved["e/vae/seed0"] != before["e/vae/seed0"]
        and moved["e/ae/seed0"] == before["e/ae/seed0"]
    )
