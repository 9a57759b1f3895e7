"""The `hessian_scaling` task's package (tasks/hessian_scaling/): every backend measured in this process, a point
in a fresh process carrying its options there and its result or its error back, budgets that skip a point before
it runs, a grid that stops a backend at its first side over budget, the log-log slopes, the figure, and the task's
summary of its trial rows. The task's contract (`check_task`) is in tests/methods/test_contracts.py."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest

from tasks.hessian_scaling import HessianScaling, isolate, measure
from tasks.hessian_scaling.figure import fit_slopes, plot
from tasks.hessian_scaling.network import POINTS, estimate_bytes


@pytest.mark.filterwarnings("ignore:Full backward hook")
@pytest.mark.parametrize("method", POINTS)
def test_every_backend_is_measured_in_process(method):
    row = measure.run_point(method, 8, repeats=1)
    assert row["status"] == "ok" and row["method"] == method and row["pixels"] == 64
    assert row["time_s"] > 0 and row["peak_mem_mb"] >= 0 and row["repeats"] == 1


def test_a_point_in_a_fresh_process_gets_its_options_and_returns_its_row():
    row = isolate.run_point_in_subprocess(
        "mix", 8, batch_size=2, channels=2, repeats=2, threshold=100
    )
    assert row["status"] == "ok", row["note"]
    assert (row["method"], row["side"], row["batch_size"], row["channels"]) == ("mix", 8, 2, 2)
    assert (row["repeats"], row["threshold"], row["device"]) == (2, 100, "cpu") and row[
        "time_s"
    ] > 0
    assert row["heap"] == "kept"  # the default: repeats reuse freed memory (glibc)
    json.dumps(row)  # a record's value: plain JSON


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_a_kept_heap_times_calls_without_mapping_their_memory_in_again():
    """A 768 px approx call maps in ~150,000 pages afresh at every repeat under glibc's default allocator (it
    unmapped them at the previous call's frees) and almost none when freed memory is kept: the cost `steady_heap`
    removes from Fig. 7's timings (`benchmarks/fig7_heap.py` prints what it does to the times)."""
    faults = {
        heap: isolate.run_point_in_subprocess("approx", 768, repeats=1, steady_heap=heap)
        for heap in (False, True)
    }
    assert (faults[False]["heap"], faults[True]["heap"]) == ("default", "kept")
    assert faults[False]["page_faults"] > 50_000 and faults[True]["page_faults"] < 5_000, faults


def test_a_failing_child_is_an_error_with_its_last_line():
    """The note is the last line the child wrote to stderr (here: torch refusing the device)."""
    row = isolate.run_point_in_subprocess("approx", 8, device="nope", repeats=1)
    assert row["status"] == "error", row
    assert row["note"].startswith("RuntimeError: Expected one of cpu"), row["note"]


def test_budgets_and_unknown_backends_are_decided_before_a_process_starts(monkeypatch):
    monkeypatch.setattr(isolate.subprocess, "run", lambda *a, **k: pytest.fail("a process started"))
    row = isolate.run_point_in_subprocess("exact", 64, memory_budget_gb=0.005)
    assert row["status"] == "out_of_budget" and "GiB > 0.005 GiB" in row["note"]
    assert np.isnan(row["time_s"]) and np.isnan(row["peak_mem_mb"])
    with pytest.raises(ValueError, match="Unknown method 'nope'. Available: exact, approx, mix"):
        isolate.run_point_in_subprocess("nope", 8)


def test_memory_estimates_are_quadratic_for_exact_and_linear_for_approx():
    assert estimate_bytes("exact", 64) == 16 * estimate_bytes("exact", 32)
    assert estimate_bytes("approx", 64) == 4 * estimate_bytes("approx", 32)
    assert estimate_bytes("mix", 16, threshold=4096) == estimate_bytes(
        "exact", 16
    )  # 768 features: exact
    assert estimate_bytes("mix", 64, threshold=4096) == estimate_bytes("approx", 64)


def test_a_grid_skips_the_larger_sides_of_a_backend_over_budget(monkeypatch):
    calls = []

    def point(method, side, **kwargs):  # exact is over budget from side 16 on
        calls.append((method, side))
        status = "out_of_budget" if method == "exact" and side >= 16 else "ok"
        ok = status == "ok"
        return {
            "method": method,
            "side": side,
            "pixels": side * side,
            "time_s": 0.01 * side if ok else np.nan,
            "peak_mem_mb": 1.0 if ok else np.nan,
            "status": status,
            "note": "",
        }

    monkeypatch.setattr(isolate, "run_point_in_subprocess", point)
    df = isolate.run_grid(["exact", "approx"], [32, 8, 16])
    assert calls == [("exact", 8), ("exact", 16), ("approx", 8), ("approx", 16), ("approx", 32)]
    exact = df[df.method == "exact"].set_index("side")
    assert list(exact.status) == ["ok", "out_of_budget", "out_of_budget"]
    assert exact.loc[32, "note"] == "side 16 was over budget"


def _points(slopes: dict, sides=(8, 16, 32, 64, 128), threshold=4096) -> pd.DataFrame:
    """Rows of `run_grid`'s shape whose time and memory grow as pixels ** slope."""
    return pd.DataFrame(
        [
            {
                "method": method,
                "side": side,
                "pixels": side * side,
                "channels": 3,
                "threshold": threshold,
                "time_s": 1e-6 * (side * side) ** slope,
                "peak_mem_mb": 1e-3 * (side * side) ** (2 * slope),
                "status": "ok",
            }
            for method, slope in slopes.items()
            for side in sides
        ]
    )


def test_slopes_are_fitted_on_large_sides_and_on_the_diagonal_regime_of_mix():
    df = _points({"approx": 1.0, "exact": 1.5, "mix": 1.0})
    df.loc[df.side < 32, "time_s"] = 1.0  # fixed overhead at small sides: left out by min_side
    # mix at 3 * 32 * 32 = 3072 <= 4096 features runs the exact regime: left out of its slope
    df.loc[(df.method == "mix") & (df.side == 32), "time_s"] = 50.0
    slopes = fit_slopes(df, min_side=32).set_index("method")
    assert slopes.loc["approx", "time_slope"] == pytest.approx(1.0)
    assert slopes.loc["exact", "memory_slope"] == pytest.approx(3.0)
    assert slopes.loc["mix", "time_slope"] == pytest.approx(1.0)
    assert slopes.loc["approx", "sides"] == "32,64,128" and slopes.loc["mix", "sides"] == "64,128"


def test_the_figure_is_drawn_with_points_over_budget_and_unmeasured_memory(tmp_path):
    df = _points({"approx": 1.0, "exact": 1.5}, sides=(8, 16, 32))
    df.loc[(df.method == "exact") & (df.side == 32), ["time_s", "peak_mem_mb", "status"]] = [
        np.nan,
        np.nan,
        "out_of_budget",
    ]
    df.loc[df.side == 8, "peak_mem_mb"] = 0.0  # under the measurement floor
    plot(df, tmp_path / "scaling.png")
    assert (tmp_path / "scaling.png").stat().st_size > 1000


def test_the_task_summarizes_its_trials_into_slopes_a_table_and_the_figure(tmp_path):
    task = HessianScaling({"modes": ["approx"], "sides": [8, 16, 32], "fit_min_side": 8})
    raw = pd.DataFrame(
        [
            {"method": "approx", "seed": seed, "metric": f"{kind}@side={side}", "value": value}
            for seed in (0, 1)
            for side in (8, 16, 32)
            for kind, value in (("time_s", 1e-4 * side**2), ("peak_mem_mb", 0.01 * side**2))
        ]
        + [{"method": "approx", "seed": 0, "metric": "over_budget@side=8", "value": 0.0}]
    )
    rows = {row["metric"]: row for row in task.summarize(raw, tmp_path / "art")}
    assert rows["slope_time"]["value"] == pytest.approx(1.0) and rows["slope_time"]["n"] == 3
    assert rows["slope_memory"]["value"] == pytest.approx(1.0)
    table = pd.read_csv(tmp_path / "art" / "scaling.csv")
    assert list(table.side) == [8, 16, 32] and set(table.status) == {"ok"}
    assert (tmp_path / "art" / "scaling.png").exists()
    assert {r["metric"] for r in task.summarize(raw, None)} == {"slope_time", "slope_memory"}


def test_the_point_server_measures_as_a_new_interpreter_and_kills_past_the_budget(monkeypatch):
    """A point measured in a child of the point server (torch imported once) against the same point in a new
    interpreter: the same peak memory the point adds; a point over its time budget is killed and says so."""
    served = isolate.run_point_in_subprocess("exact", 16, repeats=2, memory_budget_gb=2.0)
    monkeypatch.delattr("os.fork")  # as on a system without fork: a new interpreter per point
    fresh = isolate.run_point_in_subprocess("exact", 16, repeats=2, memory_budget_gb=2.0)
    monkeypatch.undo()
    assert served["status"] == fresh["status"] == "ok", (served, fresh)
    assert abs(served["peak_mem_mb"] - fresh["peak_mem_mb"]) < 2 + 0.2 * fresh["peak_mem_mb"]
    slow = isolate.run_point_in_subprocess("exact", 64, repeats=3, time_budget=0.5)
    assert slow["status"] == "timeout" and "time budget" in slow["note"]
    after = isolate.run_point_in_subprocess("approx", 8, repeats=1)
    assert after["status"] == "ok"  # the server goes on after a killed point
