"""The paired tests behind verdicts, on hand-worked cases: DeLong against brute force and a paired bootstrap,
the t over seeds against scipy, regions, Holm, the three-valued outcome, power."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

import harness.report.delong as delong
import harness.report.paired as paired
from harness.report.paired import ABOVE_ZERO, CONTRADICTED, HOLDS, INCONCLUSIVE, Estimate, Region


def test_delong_on_a_hand_worked_case():
    # positives 0.8, 0.6; negatives 0.7, 0.2: pairs (0.8>0.7, 0.8>0.2, 0.6<0.7, 0.6>0.2) -> AUROC 3/4
    scores, labels = np.array([0.8, 0.6, 0.7, 0.2]), np.array([1, 1, 0, 0])
    auc, cov = delong.delong(scores, labels)
    assert auc[0] == pytest.approx(0.75)
    # structural components: V10 = (1, 0.5) over positives, V01 = 1 - (0.5, 0) over negatives (Sun & Xu 2014)
    v10, v01 = np.array([1.0, 0.5]), np.array([0.5, 1.0])
    assert cov[0, 0] == pytest.approx(v10.var(ddof=1) / 2 + v01.var(ddof=1) / 2)
    # ties count one half
    auc, _ = delong.delong(np.array([0.5, 0.9, 0.5, 0.1]), labels)
    assert auc[0] == pytest.approx((0.5 + 1 + 1 + 1) / 4)


def test_delong_matches_sklearn_and_a_paired_bootstrap():
    """DeLong's variance of a difference of two correlated AUROCs against 10,000 paired bootstrap draws."""
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(60), np.ones(60)].astype(int)
    shared = rng.normal(
        size=120
    )  # the two scores are correlated through the input, as two methods on one image
    a = shared + labels * 1.0 + 0.7 * rng.normal(size=120)
    b = shared + labels * 0.6 + 0.7 * rng.normal(size=120)
    auc, cov = delong.delong(np.vstack([a, b]), labels)
    assert auc == pytest.approx([roc_auc_score(labels, a), roc_auc_score(labels, b)])
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    draws = 10_000
    ip, ineg = rng.integers(0, 60, (draws, 60)), rng.integers(0, 60, (draws, 60))

    def boot(s):  # AUROC of every resample at once, from ranks (Mann-Whitney U)
        both = np.concatenate([s[pos][ip], s[neg][ineg]], axis=1)
        ranks = stats.rankdata(both, axis=1)
        return (ranks[:, :60].sum(1) - 60 * 61 / 2) / 3600

    da, db = boot(a), boot(b)
    assert cov[0, 0] == pytest.approx(da.var(ddof=1), rel=0.1)
    assert cov[0, 0] + cov[1, 1] - 2 * cov[0, 1] == pytest.approx((da - db).var(ddof=1), rel=0.1)
    assert cov[0, 1] > 0  # pairing matters: the difference varies less than the two AUROCs apart


def test_t_over_seeds_is_scipys_paired_t():
    a, b = {0: 1.0, 1: 1.5, 2: 0.8, 3: 1.2}, {0: 0.5, 1: 1.1, 2: 0.9, 3: 0.7}
    est = paired.seed_difference(a, b)
    p, side = paired.two_sided(est, ABOVE_ZERO)
    assert (
        p == pytest.approx(stats.ttest_rel(list(a.values()), list(b.values())).pvalue) and side == 1
    )
    low, high = est.ci()
    ref = stats.ttest_rel(list(a.values()), list(b.values())).confidence_interval()
    assert (low, high) == pytest.approx((ref.low, ref.high))
    # seeds are paired by number: a seed only one side has is left out
    assert paired.seed_difference({**a, 9: 100.0}, b).value == pytest.approx(est.value)


def test_regions_shift_the_null_and_intervals_use_two_one_sided_tests():
    est = Estimate(0.004, 0.001, 10, "t", 11)
    assert (
        paired.two_sided(est, Region(hi=0.005))[1] == 1
    )  # 0.004 < 0.005: towards "below the margin"
    p, side = paired.two_sided(est, Region(hi=0.005))
    assert p == pytest.approx(2 * stats.t(10).cdf((0.004 - 0.005) / 0.001))
    inside = Estimate(1.0, 0.05, 20, "slope", 1)
    p_in, _ = paired.p_values(inside, Region(0.7, 1.3))
    assert p_in == pytest.approx(
        stats.t(20).sf(0.3 / 0.05)
    )  # both one-sided tests reject: the larger p
    outside = Estimate(2.0, 0.05, 20, "slope", 1)
    assert paired.two_sided(outside, Region(0.7, 1.3))[1] == -1
    assert math.isnan(paired.two_sided(Estimate(1.0, math.nan, 0, "t", 1), ABOVE_ZERO)[0])


def test_holm_and_three_valued_outcomes():
    from statsmodels.stats.multitest import multipletests

    adjusted = paired.holm([0.01, 0.04, 0.03, math.nan])
    assert adjusted[:3] == pytest.approx([0.03, 0.06, 0.06]) and math.isnan(adjusted[3])
    p = np.random.default_rng(0).uniform(0, 0.2, 12)
    assert paired.holm(p.tolist()) == pytest.approx(multipletests(p, method="holm")[1].tolist())
    assert paired.outcome(0.01, 1) == HOLDS and paired.outcome(0.01, -1) == CONTRADICTED
    assert paired.outcome(0.2, 1) == INCONCLUSIVE and paired.outcome(math.nan, 0) == INCONCLUSIVE


def test_two_way_variance_on_a_hand_worked_case():
    # three seeds' differences 0.1, 0.2, 0.3: S^2 = 0.01; each seed's input variance 0.004, two seeds share 0.002
    cov = np.full((3, 3), 0.002) + np.eye(3) * 0.002
    est = paired.two_way(np.array([0.1, 0.2, 0.3]), cov, 1000)
    assert est.value == pytest.approx(0.2) and est.df == 2
    assert est.se**2 == pytest.approx(0.01 / 3 + 0.002)  # S^2 / K + C
    assert (est.seed_var, est.input_var) == pytest.approx((0.01, 0.002))
    # inputs of their own (no shared covariance): the one-sample t over seeds, exactly
    own = paired.two_way(np.array([0.1, 0.2, 0.3]), np.eye(3) * 0.004, 1000)
    ref = stats.ttest_1samp([0.1, 0.2, 0.3], 0.0)
    assert paired.two_sided(own, ABOVE_ZERO)[0] == pytest.approx(ref.pvalue)
    # a negative shared covariance estimate is clipped at 0, never credited
    neg = paired.two_way(np.array([0.1, 0.2, 0.3]), np.eye(3) * 0.004 - 0.001, 1000)
    assert neg.input_var == 0 and neg.se == pytest.approx(own.se)


def test_delong_over_shared_inputs_matches_the_variance_of_repeated_experiments():
    """The two-way variance against the spread of the mean over 300 simulated experiments (fresh inputs and
    fresh seeds each time), the per-input quirk repeated by each method's seeds (correlation 0.9)."""
    from threadpoolctl import threadpool_limits

    from benchmarks.verdict_calibration import shared_inputs_experiment

    rng = np.random.default_rng(0)
    means, variances, shared = [], [], []
    with threadpool_limits(1):
        for _ in range(300):
            sim = shared_inputs_experiment(rng, {"a": 0.8, "b": 0.75}, 0.02, 5, 0.9, n_side=200)
            per_seed = [(sim[("a", s)][0], sim[("b", s)][0], sim[("a", s)][1]) for s in range(5)]
            est = delong.auroc_difference(per_seed)
            means.append(est.value)
            variances.append(est.se**2)
            shared.append(est.input_var)
    assert np.mean(variances) == pytest.approx(np.var(means, ddof=1), rel=0.2)
    # the shared inputs carry much of the error here: treating seeds as independent studies divides it by 5
    assert np.mean(shared) > 0.3 * np.mean(variances)


def test_one_seed_never_decides_and_the_seed_spread_counts():
    rng = np.random.default_rng(1)
    labels = np.r_[np.zeros(200), np.ones(200)].astype(int)
    x = rng.normal(size=400)  # the same inputs for every seed
    per_seed = []
    for shift in (
        0.9,
        0.5,
        1.3,
    ):  # three trained models of one method, very different from each other
        per_seed.append((x + shift * labels, x + 0.2 * labels + 0.3 * rng.normal(size=400), labels))
    one = delong.auroc_difference(per_seed[:1])
    assert one.n_seeds == 1 and math.isnan(paired.two_sided(one, ABOVE_ZERO)[0])
    three = delong.auroc_difference(per_seed)
    deltas = [delong.delong(np.vstack([a, b]), y)[0] @ [1, -1] for a, b, y in per_seed]
    assert three.per_seed == pytest.approx(deltas) and three.df == 2
    assert three.value == pytest.approx(np.mean(deltas))
    assert three.se >= np.std(deltas, ddof=1) / math.sqrt(
        3
    )  # the seeds' disagreement, plus the inputs
    with pytest.raises(ValueError, match="same inputs"):
        delong.auroc_difference([per_seed[0], (x[:-1], x[:-1], labels[:-1])])
    apart = delong.auroc_difference(
        per_seed, shared_inputs=False
    )  # as if each seed had its own inputs
    assert apart.input_var == 0 and apart.se == pytest.approx(np.std(deltas, ddof=1) / math.sqrt(3))


def test_equivalence_is_two_one_sided_tests_inside_the_margin():
    tied = Estimate(0.004, 0.002, 10, "t", 11)
    p = paired.equivalence_p(tied, 0.01)
    assert p == pytest.approx(stats.t(10).cdf((0.004 - 0.01) / 0.002))  # the upper bound binds
    assert p < paired.ALPHA
    assert paired.equivalence_p(Estimate(0.004, 0.01, 10, "t", 11), 0.01) > paired.ALPHA
    assert math.isnan(paired.equivalence_p(tied, math.nan))


def test_seeds_for_power_follows_the_variance_and_never_skips():
    from statsmodels.stats.power import TTestPower

    est = Estimate(0.02, 0.05, 2, "t", 3, seed_var=0.0075)  # per-seed sd 0.087, no shared inputs
    need = paired.seeds_for_power(est, 0.17)
    assert 3 <= need <= 6
    for k in (2, 3, 5, 8):  # the paired t's power, as statsmodels computes it
        ref = TTestPower().power(
            effect_size=0.17 / math.sqrt(0.0075), nobs=k, alpha=0.05, alternative="two-sided"
        )
        assert paired.power(est, 0.17, k) == pytest.approx(ref, abs=1e-6)
    assert paired.seeds_for_power(est, 0.05) > need  # a smaller gap needs more seeds
    assert math.isnan(paired.seeds_for_power(est, math.nan))
    # a large effect, where statsmodels' solver returns NaN at some sizes: every size has a power
    big = Estimate(0.3, 0.01, 2, "t", 3, seed_var=0.0004)
    assert paired.seeds_for_power(big, 0.26) == 2.0
    assert all(np.isfinite(paired.power(big, 0.26, k)) for k in range(2, 30))
    # the inputs' shared error is a floor no number of seeds removes: more test inputs are needed
    floor = Estimate(0.0, 0.05, 2, "t", 3, seed_var=0.0001, input_var=0.01)
    assert paired.seeds_for_power(floor, 0.1) == math.inf
    spread = Estimate(0.0, 0.05, 2, "t", 3, seed_var=0.01, input_var=1e-5)
    assert paired.seeds_for_power(spread, 0.1) < 20


def test_slope_of_an_exact_power_law():
    x = np.array([32, 64, 128, 256.0]) ** 2
    est = paired.slope(x, 3e-6 * x**1.0 * np.array([1.01, 0.99, 1.0, 1.005]))
    assert est.value == pytest.approx(1.0, abs=0.01) and est.df == 2
    assert paired.two_sided(est, Region(0.7, 1.3))[1] == 1
