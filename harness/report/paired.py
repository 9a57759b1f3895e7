"""Paired tests behind every verdict: an estimate of a difference (or of a level against a threshold) with its
standard error and degrees of freedom, a claim region it must lie in, and a three-valued outcome.

Estimates (`Estimate`):
- `auroc_difference`: two methods' AUROCs on the same test inputs. Within a seed, DeLong's test for two
  correlated ROC curves (`delong`, the one piece written by hand: scipy and statsmodels lack it) gives the
  difference and its variance over test inputs. Seeds are combined by a random-effects meta-analysis
  (`statsmodels.stats.meta_analysis.combine_effects`, Paule-Mandel between-seed variance tau^2) with the
  Hartung-Knapp-Sidik-Jonkman standard error, never below the plain random-effects one, and a t distribution
  with k - 1 degrees of freedom (k seeds). Why: each trained model is one draw of the training process and
  the claim is about the method, not one model, so seed-to-seed variance must count. A bootstrap over 3
  seeds has 10 distinct resamples and cannot represent it; HKSJ is the meta-analysis standard for few
  studies and stays near its nominal level there (`benchmarks/verdict_calibration.py` measures it here).
- `auroc_level`: one method's AUROC against a threshold (DeLong's variance of one curve, same combination).
- `seed_difference` / `seed_level`: per-seed scalars (MSE, ECE, KNN accuracy, a log ratio), paired by seed:
  the mean of per-seed differences, its standard error and k - 1 degrees of freedom (the paired t-test,
  `scipy.stats.ttest_rel`, written as an estimate so that non-zero boundaries use the same code).
- `slope`: a least-squares log-log slope with its standard error (`scipy.stats.linregress`), n - 2 df.

A claim part states the region the paper puts the quantity in (`Region`): above 0 (A better than B), below a
threshold, within a margin (non-inferiority: the paper prints two decimals, so a "tie" is a difference
inside +-0.005, its region of practical equivalence, as baycomp calls it), inside an interval (equivalence,
two one-sided tests). `p_values` gives the p-value for "the quantity is in the region" (holds) and for "it
is outside" (contradicted); a part's test is decided on 2 x the smaller (a two-sided level), Holm-corrected
over every test of a claim (`holm`, checked against statsmodels' `multipletests`). Significant on the region's side:
holds; on the other side: contradicted; otherwise inconclusive. One seed never decides (seed variance is
unknown). `seeds_for_power` gives the seeds (at the current test size) that would detect a given gap with
80% power, from the measured per-seed variance (`statsmodels.stats.power.TTestPower`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

ALPHA = 0.05
ROPE = (
    0.005  # half the last digit the paper prints (two decimals): differences inside +-ROPE are ties
)
HOLDS, CONTRADICTED, INCONCLUSIVE = "holds", "contradicted", "inconclusive"


# --- DeLong -------------------------------------------------------------------------------------------------


def _midranks(x: np.ndarray) -> np.ndarray:
    return stats.rankdata(x, method="average", axis=-1)


def delong(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUROCs of each row of `scores` [m, N] against binary `labels` [N] (1 = positive) and their DeLong
    covariance [m, m] (DeLong et al. 1988, in Sun and Xu's 2014 midrank form)."""
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    labels = np.asarray(labels).astype(bool)
    pos, neg = scores[:, labels], scores[:, ~labels]
    n_pos, n_neg = pos.shape[1], neg.shape[1]
    if n_pos < 2 or n_neg < 2:
        raise ValueError(
            f"DeLong needs at least 2 positives and 2 negatives; got {n_pos} and {n_neg}."
        )
    rank_pos, rank_neg, rank_all = _midranks(pos), _midranks(neg), _midranks(np.hstack([pos, neg]))
    auc = (rank_all[:, :n_pos].sum(1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    v10 = (rank_all[:, :n_pos] - rank_pos) / n_neg  # structural components of the positives
    v01 = 1.0 - (rank_all[:, n_pos:] - rank_neg) / n_pos  # and of the negatives
    cov = np.atleast_2d(np.cov(v10)) / n_pos + np.atleast_2d(np.cov(v01)) / n_neg
    return auc, cov


# --- estimates ----------------------------------------------------------------------------------------------


@dataclass
class Estimate:
    """A quantity with its standard error and the t degrees of freedom its test uses (inf: normal)."""

    value: float
    se: float
    df: float
    test: str  # the test's name, for people
    n_seeds: int
    n_inputs: int = 0  # test inputs per seed (0: per-seed scalars only)
    per_seed: list[float] = field(default_factory=list)
    seed_var: float = (
        math.nan
    )  # variance of one seed's estimate (between + within seeds): drives power

    def ci(self, level: float = 0.95) -> tuple[float, float]:
        if not np.isfinite(self.se) or self.df <= 0:
            return math.nan, math.nan
        half = stats.t.ppf(0.5 + level / 2, self.df) * self.se
        return self.value - half, self.value + half


def seed_difference(a: dict, b: dict, test: str = "paired t over seeds") -> Estimate:
    """Mean of per-seed differences a[s] - b[s] over the seeds both have."""
    seeds = sorted(set(a) & set(b))
    return _t_over_seeds([a[s] - b[s] for s in seeds], test)


def seed_level(values: dict, test: str = "one-sample t over seeds") -> Estimate:
    """Mean of per-seed values (compare with a threshold through the region)."""
    return _t_over_seeds([values[s] for s in sorted(values)], test)


def _t_over_seeds(values: list[float], test: str) -> Estimate:
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=float)
    k = len(v)
    if k == 0:
        return Estimate(math.nan, math.nan, 0, test, 0)
    sd = v.std(ddof=1) if k > 1 else math.nan
    return Estimate(
        float(v.mean()),
        sd / math.sqrt(k) if k > 1 else math.nan,
        k - 1,
        test,
        k,
        0,
        v.tolist(),
        sd**2 if k > 1 else math.nan,
    )


def auroc_difference(per_seed: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Estimate:
    """AUROC(a) - AUROC(b) from `(scores_a, scores_b, labels)` per seed, on the same inputs within a seed."""
    effects, variances, sizes = [], [], []
    for a, b, labels in per_seed:
        auc, cov = delong(np.vstack([a, b]), labels)
        effects.append(auc[0] - auc[1])
        variances.append(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
        sizes.append(len(labels))
    return _combine(effects, variances, sizes, "DeLong per seed, random effects over seeds (HKSJ)")


def auroc_level(per_seed: list[tuple[np.ndarray, np.ndarray]]) -> Estimate:
    """AUROC from `(scores, labels)` per seed."""
    effects, variances, sizes = [], [], []
    for scores, labels in per_seed:
        auc, cov = delong(scores, labels)
        effects.append(auc[0])
        variances.append(cov[0, 0])
        sizes.append(len(labels))
    return _combine(effects, variances, sizes, "DeLong per seed, random effects over seeds (HKSJ)")


def _combine(effects: list[float], variances: list[float], sizes: list[int], test: str) -> Estimate:
    from statsmodels.stats.meta_analysis import combine_effects

    e, v = np.asarray(effects, float), np.maximum(np.asarray(variances, float), 1e-12)
    k, n = len(e), int(np.mean(sizes)) if sizes else 0
    if k == 0:
        return Estimate(math.nan, math.nan, 0, test, 0, n)
    if (
        k == 1
    ):  # one trained model: its within-seed error is known, the method's seed-to-seed spread is not
        return Estimate(float(e[0]), math.nan, 0, test, 1, n, e.tolist(), math.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = combine_effects(e, v, method_re="iterated", use_t=True)
    se = math.sqrt(
        max(res.var_hksj_re, 1.0 / res.w_total_re)
    )  # HKSJ, never below the plain RE error
    return Estimate(
        float(res.mean_effect_re), se, k - 1, test, k, n, e.tolist(), float(res.tau2 + v.mean())
    )


def slope(x: np.ndarray, y: np.ndarray, test: str = "least-squares log-log slope") -> Estimate:
    """Slope of log y against log x (both positive) with its standard error, n - 2 df."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
    lx, ly = np.log(x[keep]), np.log(y[keep])
    if keep.sum() < 3:
        value = float(np.polyfit(lx, ly, 1)[0]) if keep.sum() == 2 else math.nan
        return Estimate(value, math.nan, 0, test, 1, int(keep.sum()))
    fit = stats.linregress(lx, ly)
    return Estimate(
        float(fit.slope), float(fit.stderr), int(keep.sum()) - 2, test, 1, int(keep.sum())
    )


# --- regions, p-values, decisions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Region:
    """Where the claim puts the quantity: lo < value < hi (either side may be infinite)."""

    lo: float = -math.inf
    hi: float = math.inf

    def describe(self) -> str:
        lo, hi = f"{self.lo + 0.0:.3g}", f"{self.hi + 0.0:.3g}"
        if np.isfinite(self.lo) and np.isfinite(self.hi):
            return f"in ({lo}, {hi})"
        return f"> {lo}" if np.isfinite(self.lo) else f"< {hi}"


ABOVE_ZERO, BELOW_ZERO = Region(lo=0.0), Region(hi=0.0)


def p_values(est: Estimate, region: Region) -> tuple[float, float]:
    """(p for "the quantity is in the region", p for "it is outside"), one-sided t tests (two one-sided
    tests for an interval). NaN when the estimate has no standard error."""
    if not (np.isfinite(est.value) and np.isfinite(est.se) and est.se > 0 and est.df > 0):
        return math.nan, math.nan
    dist = stats.t(est.df)
    above_lo = (
        dist.sf((est.value - region.lo) / est.se) if np.isfinite(region.lo) else 0.0
    )  # H0: value <= lo
    below_hi = (
        dist.cdf((est.value - region.hi) / est.se) if np.isfinite(region.hi) else 0.0
    )  # H0: value >= hi
    p_in = max(above_lo, below_hi)
    p_below = (
        dist.cdf((est.value - region.lo) / est.se) if np.isfinite(region.lo) else 1.0
    )  # H0: value >= lo
    p_above = (
        dist.sf((est.value - region.hi) / est.se) if np.isfinite(region.hi) else 1.0
    )  # H0: value <= hi
    both = np.isfinite(region.lo) and np.isfinite(region.hi)
    p_out = min(1.0, 2 * min(p_below, p_above)) if both else min(p_below, p_above)
    return float(p_in), float(p_out)


def two_sided(est: Estimate, region: Region) -> tuple[float, int]:
    """The test's p-value at a two-sided level and its side: +1 towards the region, -1 away from it."""
    p_in, p_out = p_values(est, region)
    if not np.isfinite(p_in):
        return math.nan, 0
    return (min(1.0, 2 * p_in), 1) if p_in <= p_out else (min(1.0, 2 * p_out), -1)


def holm(p: list[float]) -> list[float]:
    """Holm-adjusted p-values (NaN stays NaN and is not counted). Written out (3 lines) rather than calling
    `statsmodels.stats.multitest.multipletests(method="holm")`, which it matches (tests/test_paired.py), because
    that function forces a full garbage collection per call (0.1 s here) and leaderboards call it per metric."""
    p = np.asarray(p, float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    out[order] = np.minimum(1.0, np.maximum.accumulate(p[order] * np.arange(len(order), 0, -1)))
    return out.tolist()


def outcome(p_adjusted: float, side: int) -> str:
    if not np.isfinite(p_adjusted) or p_adjusted >= ALPHA:
        return INCONCLUSIVE
    return HOLDS if side > 0 else CONTRADICTED


def seeds_for_power(
    est: Estimate, gap: float, power: float = 0.8, n_tests: int = 1, most: int = 1000
) -> float:
    """Seeds (at this test size) a t test over seeds needs to detect `gap` with `power` at ALPHA / n_tests
    (Bonferroni, a bound on Holm), from the measured variance of one seed's estimate. NaN if unknown, inf if
    more than `most`."""
    from statsmodels.stats.power import TTestPower

    if not (np.isfinite(est.seed_var) and est.seed_var > 0 and np.isfinite(gap) and gap != 0):
        return math.nan
    effect, alpha, solver = (
        abs(gap) / math.sqrt(est.seed_var),
        ALPHA / max(1, n_tests),
        TTestPower(),
    )
    for k in range(
        2, most + 1
    ):  # the fewest seeds that reach the power (scanned: the solver fails at the edges)
        if solver.power(effect_size=effect, nobs=k, alpha=alpha, alternative="two-sided") >= power:
            return float(k)
    return math.inf
