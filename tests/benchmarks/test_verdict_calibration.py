"""The verdicts' calibration in the reports' design (every seed scores the same test inputs): two methods with
equal true AUROC, the per-input quirk each method's retrained models repeat correlated 0.5-0.95, 3 to 20 seeds.
One-sided false "holds" (and "contradicted") must stay within the nominal 2.5% plus three Monte-Carlo standard
errors (`benchmarks.verdict_calibration.null_rates`; the full sweep and the power are its `main`)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from benchmarks.verdict_calibration import null_rates

REPS = 400
LIMIT = 0.025 + 3 * math.sqrt(0.025 * 0.975 / REPS)  # 4.8%


@pytest.mark.parametrize("seeds", [3, 5, 10, 20])
@pytest.mark.parametrize(("rho", "seed_sd"), [(0.9, 0.05), (0.95, 0.0), (0.5, 0.15)])
def test_false_verdicts_stay_nominal_as_seeds_are_added(rho, seed_sd, seeds):
    with threadpool_limits(1):
        holds, contradicted = null_rates(rho, seed_sd, seeds, REPS, np.random.default_rng(seeds))
    assert holds <= LIMIT and contradicted <= LIMIT, (holds, contradicted)
