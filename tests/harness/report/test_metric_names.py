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


def test_proportions_get_intervals_inside_zero_one():
    from scipy import stats

    from harness.report.metric_names import in_unit_range
    from harness.report.numbers import unit_interval

    assert in_unit_range("auroc/authors/sigma2_output") and in_unit_range("accuracy/n=10")
    assert in_unit_range("classifier_ece") and in_unit_range("auroc_inkmatched/log_px")
    assert not in_unit_range("mse") and not in_unit_range("time_s@side=16")
    # by hand: logits of 0.2, 0.5, 0.8 are -1.386, 0, 1.386 (mean 0, sd 1.386); t(2) 0.975 = 4.303
    half = stats.t.ppf(0.975, 2) * 1.3863 / 3**0.5
    low, high = unit_interval([0.2, 0.5, 0.8])
    assert abs(low - 1 / (1 + 2.71828**half)) < 1e-4 and abs(high - (1 - low)) < 1e-9
    low, high = unit_interval([0.21, 0.97, 0.605])  # the plain t interval is (-0.35, 1.54)
    assert 0 < low < 0.21 and 0.97 < high < 1
    assert unit_interval([0.0, 1.0, 1.0])[1] == 1.0  # exact 0 or 1: the t interval, clipped
