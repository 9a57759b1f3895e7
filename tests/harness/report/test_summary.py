"""The run's summary table names a best only where the numbers can carry one: a Hessian-scaling slope from
compute-dominated sides (each fitted call at least `MIN_TIMED_S`, never faster on a larger side), else
"n/a (sides too small to time)"."""

from __future__ import annotations

import json

import pandas as pd

from harness.report.leaderboard import RAW_COLUMNS, aggregate
from harness.report.summary import MIN_TIMED_S, TOO_SMALL, headline_rows

PARAMS = json.dumps({"sides": [8, 16, 32], "fit_min_side": 8, "modes": ["exact", "fwd_bwd"]})


def _board(seconds: dict[str, list[float]]) -> pd.DataFrame:
    """A scaling experiment whose modes took `seconds` per call at sides 8, 16 and 32."""
    raw = pd.DataFrame(
        [
            {
                "experiment": "scaling",
                "task": "hessian_scaling",
                "dataset": "",
                "arch": "",
                "method": mode,
                "seed": 0,
                "point": json.dumps({"side": side}),
                "metric": f"{measure}@side={side}",
                "value": value if measure == "time_s" else 0.0,  # memory: below the floor
                "status": "ok",
                "trial_id": f"scaling/{mode}/side={side}",
                "task_params": PARAMS,
            }
            for mode, values in seconds.items()
            for side, value in zip((8, 16, 32), values)
            for measure in ("time_s", "peak_mem_mb")
        ],
        columns=RAW_COLUMNS,
    )
    return aggregate(raw)


def test_a_slope_from_calls_under_5_ms_is_no_headline():
    # fwd_bwd's flat, noisy 0.3-0.5 ms gives the smallest slope; only exact's calls are long enough to time
    board = _board({"exact": [0.011, 0.035, 1.28], "fwd_bwd": [0.0004, 0.0003, 0.0005]})
    slopes = board[board.metric == "slope_time"].set_index("method")["mean"]
    assert slopes["fwd_bwd"] < slopes["exact"]  # the noise would win on the number alone
    (row,) = headline_rows(board)
    assert row[2:5] == ("slope_time", "exact", f"{slopes['exact']:.3g}") and row[5] == "2"


def test_a_cost_that_falls_as_the_side_grows_is_noise_not_a_slope():
    # backpack_kfac in the demo: 7, 37 and 9 ms, every call over 5 ms, slope 0.1 from a load spike
    board = _board({"exact": [0.011, 0.035, 1.28], "backpack_kfac": [0.0070, 0.037, 0.0093]})
    (row,) = headline_rows(board)
    assert row[3] == "exact"


def test_only_fast_sides_give_no_best_at_all():
    board = _board({"exact": [0.001, 0.002, 0.004], "fwd_bwd": [0.0004, 0.0003, MIN_TIMED_S]})
    (row,) = headline_rows(board)
    assert row[3:5] == ("", TOO_SMALL)


def test_other_headlines_are_the_best_mean():
    board = _board({"exact": [0.011, 0.035, 1.28]})
    rows = [
        {
            **board.iloc[0].to_dict(),
            "experiment": "r",
            "task": "reconstruction",
            "method": m,
            "metric": "mse",
            "mean": v,
            "std": 0.1,
            "ci95_low": v - 0.2,
            "ci95_high": v + 0.2,
        }
        for m, v in (("ae", 3.0), ("vae", 2.5))
    ]
    (_, row) = headline_rows(pd.concat([board, pd.DataFrame(rows)], ignore_index=True))
    assert row == ("r", "reconstruction", "mse", "vae", "2.50 ± 0.20", "2")
