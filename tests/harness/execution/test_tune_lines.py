"""Tune's lines that laebench's own output replaces are dropped; the rest reach the log as Tune wrote them."""

import logging

from harness.execution.backends.ray_cluster import quiet_tune_advice


def _passes(logger: str, message: str) -> bool:
    record = logging.LogRecord(logger, logging.WARNING, __file__, 1, message, None, None)
    return logging.getLogger(logger).filter(record)


def test_stop_advice_missing_metrics_and_timing_notes_are_dropped_other_lines_kept():
    quiet_tune_advice()
    analysis, tune, util = (
        "ray.tune.analysis.experiment_analysis",
        "ray.tune.tune",
        "ray.tune.utils.util",
    )
    assert not _passes(analysis, "Failed to fetch metrics for 1 trial(s):\n- run_train_00003: ...")
    assert not _passes(tune, "Resume experiment with: Tuner.restore(path=...)")
    assert not _passes(
        util, "The `on_step_begin` operation took 0.631 s, which may be a performance bottleneck."
    )
    assert _passes(analysis, "Could not find best trial")  # anything else is kept
    assert _passes(tune, "Trial run_train_0 errored")
