"""`metric_parts`: a metric's name as the leaderboard's tidy columns, on every naming the tasks use."""

from __future__ import annotations

import math

import pytest

from harness.report.metric_names import metric_parts


@pytest.mark.parametrize(
    "metric, measure, score, convention, sweep, value",
    [
        ("mse", "mse", "", "ours", "", math.nan),
        ("auroc/log_px", "auroc", "log_px", "ours", "", math.nan),
        ("auroc/authors/log_px", "auroc", "log_px", "authors", "", math.nan),
        (
            "auroc_inkmatched/authors/sigma2_output",
            "auroc_inkmatched",
            "sigma2_output",
            "authors",
            "",
            math.nan,
        ),
        ("authors/ece", "ece", "", "authors", "", math.nan),
        ("accuracy/n=10", "accuracy", "", "ours", "n", 10.0),
        ("time_s@side=16", "time_s", "", "ours", "side", 16.0),
        ("accuracy/Smiling", "accuracy", "Smiling", "ours", "", math.nan),
    ],
)
def test_metric_names_split_into_columns(metric, measure, score, convention, sweep, value):
    parts = metric_parts(metric)
    assert (parts["measure"], parts["score"], parts["convention"], parts["sweep"]) == (
        measure,
        score,
        convention,
        sweep,
    )
    assert parts["sweep_value"] == value or (math.isnan(value) and math.isnan(parts["sweep_value"]))


def test_sweep_values_sort_as_numbers():
    names = ["accuracy/n=100", "accuracy/n=2", "accuracy/n=25"]
    assert sorted(names, key=lambda m: metric_parts(m)["sweep_value"]) == [
        "accuracy/n=2",
        "accuracy/n=25",
        "accuracy/n=100",
    ]
