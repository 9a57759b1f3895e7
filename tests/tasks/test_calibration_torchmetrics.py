"""Our ECE / MCE / RMSCE (`tasks.metrics`) equal torchmetrics' `multiclass_calibration_error` with norm
l1 / max / l2 and 15 bins, the library the authors used (`src/data_imputation/helpers.py::compute_ece`).

Only bin edges differ: ours are (lo, hi], torchmetrics' [lo, hi); random confidences never sit on an edge
(asserted), so the numbers must agree to float32 precision.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchmetrics.functional.classification import multiclass_calibration_error

from tasks import metrics


@pytest.mark.parametrize(
    "seed, n, classes, sharpness", [(0, 500, 10, 1.0), (1, 2000, 10, 4.0), (2, 300, 3, 0.3)]
)
def test_calibration_errors_equal_torchmetrics(seed, n, classes, sharpness):
    rng = np.random.default_rng(seed)
    logits = sharpness * rng.normal(size=(n, classes))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    # labels that agree with the argmax more often than chance, so the bins have varied accuracies
    labels = np.where(rng.random(n) < 0.6, probs.argmax(1), rng.integers(0, classes, n))
    edges = np.linspace(0, 1, metrics.N_BINS + 1)
    assert np.abs(probs.max(1)[:, None] - edges[None]).min() > 1e-6  # no confidence on a bin edge
    ours = metrics.calibration_errors(probs, labels)
    p, y = torch.tensor(probs, dtype=torch.float32), torch.tensor(labels)
    for name, norm in (("ece", "l1"), ("mce", "max"), ("rmsce", "l2")):
        theirs = float(
            multiclass_calibration_error(
                p, y, num_classes=classes, n_bins=metrics.N_BINS, norm=norm
            )
        )
        assert ours[name] == pytest.approx(theirs, abs=1e-6), name
    assert (
        ours["mce"] >= ours["rmsce"] >= ours["ece"] > 0
    )  # max >= root-mean-square >= mean over the bins
