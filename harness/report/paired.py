"""Paired tests behind every verdict: an estimate of a difference (or of a level against a threshold) with its
standard error and degrees of freedom, a claim region it must lie in, and its outcome.

The design they are built for: K seeds, each a retrained model of every method, all scored on the same test
inputs. The error of a mean over seeds then has two sources, the seeds (each model is one draw of the training
process; the claim is about the method, not one model) and the test inputs, which every seed shares, so their
error does not average out as seeds are added. Treating the seeds as independent studies (a random-effects
meta-analysis of per-seed DeLong variances, as this module did before) counts the shared input error K times
over and gives false verdicts that grow with K (3 / 5 / 10 / 20 seeds: 0.8 / 7.8 / 23.5 / 32.5 % one-sided
false holds in `benchmarks/verdict_calibration.py`'s shared-input design, against a nominal 2.5 %).

Estimates (`Estimate`):
- `auroc_difference` / `auroc_level` (in `harness.report.delong`): the mean over seeds of per-seed AUROC differences (or AUROCs) with the
  Obuchowski-Rockette variance used for multi-reader multi-case ROC studies (Obuchowski and Rockette 1995;
  Hillis, Obuchowski and Berbaum 2008), seeds in the role of readers and test inputs in that of cases:
  Var = S^2 / K + C, S^2 the sample variance of the K per-seed values, C the mean covariance between two seeds'
  values over the shared inputs, from DeLong's covariance of all 2K curves at once (`harness.report.delong`, DeLong et al. 1988
  in Sun and Xu's 2014 midrank form, the one piece written by hand: scipy and statsmodels lack it), clipped at
  0; a t test with K - 1 degrees of freedom (`two_way` says why not Hillis's). With seeds on inputs of their own
  C is 0 and the test is the paired t over seeds. Hand-worked in tests/harness/report/test_paired.py; its calibration
  (false holds at 3-20 seeds, input correlation up to 0.95) is a test of the suite
  (tests/benchmarks/test_verdict_calibration.py).
- `seed_difference` / `seed_level`: per-seed scalars without per-input values (MSE, ECE, KNN accuracy, a log
  ratio), paired by seed: the mean of per-seed differences, its standard error and K - 1 degrees of freedom
  (the paired t-test, `scipy.stats.ttest_rel`, written as an estimate so that non-zero boundaries use the same
  code). It counts the seed spread only: the shared inputs' error is not estimable from per-seed numbers (it is
  small where a scalar averages thousands of inputs, and the reason AUROCs are tested from per-input scores).
- `slope`: a least-squares log-log slope with its standard error (`scipy.stats.linregress`), n - 2 df: a
  timing measurement of one network over image sizes (no trained model), decided from the scatter of its points.

A claim part states the region the paper puts the quantity in (`Region`): above 0 (A better than B), below a
threshold, within a margin (non-inferiority), inside an interval (two one-sided tests). `p_values` gives the
p-value for "the quantity is in the region" (holds) and for "it is outside" (contradicted); a part's test is
decided on 2 x the smaller (a two-sided level), Holm-corrected over every test of a claim (`holm`, checked
against statsmodels' `multipletests`). Significant on the region's side: holds; on the other side:
contradicted. Otherwise a difference may still be a tie: `equivalence_p` (two one-sided tests against
+-`MARGIN`, one unit of the paper's last printed digit, also Holm-corrected over the claim) below ALPHA reads
**equivalent**; else inconclusive. A trained-model claim never decides on one seed (its seed variance is
unknown). `seeds_for_power` gives the seeds (at the current test size) that would detect a given gap with 80%
power (`power`: the noncentral t of the same design), infinite when the shared input error alone prevents it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

ALPHA = 0.05
# One unit of the last digit the paper prints (two decimals): two numbers the paper would print alike can differ
# by up to this much, so differences inside +-MARGIN are ties at the paper's precision (non-inferiority margin,
# equivalence margin).
MARGIN = 0.01
HOLDS, CONTRADICTED, INCONCLUSIVE, EQUIVALENT = (
    "holds",
    "contradicted",
    "inconclusive",
    "equivalent",
)
TWO_WAY = "DeLong over the inputs the seeds share + seed spread (Obuchowski-Rockette), t over seeds"


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
    # S^2: the variance of one seed's estimate about the mean (seed spread + unshared input error); with
    # `input_var` (C: the input error all seeds share) it gives the error at any number of seeds (power)
    seed_var: float = math.nan
    input_var: float = 0.0

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


def two_way(
    effects: np.ndarray, input_cov: np.ndarray, n_inputs: int, test: str = TWO_WAY
) -> Estimate:
    """The mean of K per-seed estimates whose covariance over the test inputs is `input_cov` [K, K] (its diagonal:
    each seed's own input error; off the diagonal: the error the seeds share because they score the same inputs,
    zero when each seed has its own inputs). Obuchowski-Rockette: Var(mean) = S^2 / K + C, with S^2 the sample
    variance of the K estimates (seed-to-seed spread plus the input error seeds do not share) and C the mean
    off-diagonal covariance (the input error no number of seeds removes), clipped at 0; a t test with K - 1
    degrees of freedom, their original (t - 1)(r - 1) for two methods. Hillis's larger ones (2007) gave up to
    5.8% one-sided false holds at 3 seeds in this design (nominal 2.5%; benchmarks/verdict_calibration.py), the
    Satterthwaite weakness when S^2 has 2 degrees of freedom; K - 1 never exceeded the nominal rate there."""
    e = np.asarray(effects, float)
    k = len(e)
    if k == 0:
        return Estimate(math.nan, math.nan, 0, test, 0, n_inputs)
    if k == 1:  # one trained model: the method's seed-to-seed spread is unknown
        return Estimate(float(e[0]), math.nan, 0, test, 1, n_inputs, e.tolist(), math.nan)
    cov = np.asarray(input_cov, float)
    s2 = float(e.var(ddof=1))
    shared = max(float((cov.sum() - np.trace(cov)) / (k * (k - 1))), 0.0)
    var = s2 / k + shared
    se = math.sqrt(var) if var > 0 else math.nan
    return Estimate(float(e.mean()), se, k - 1, test, k, n_inputs, e.tolist(), s2, shared)


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


def equivalence_p(est: Estimate, margin: float) -> float:
    """p of two one-sided tests (Schuirmann 1987) that the quantity lies inside (-margin, +margin): the larger of
    the two one-sided p-values; below ALPHA the difference is a tie at that margin (its 1 - 2 ALPHA interval
    lies inside). NaN without a standard error."""
    if not (np.isfinite(margin) and margin > 0):
        return math.nan
    return p_values(est, Region(-margin, margin))[0]


def power(est: Estimate, gap: float, k: int, alpha: float = ALPHA) -> float:
    """Power of the two-sided t test of this estimate's design at `k` seeds to detect a true difference `gap`:
    standard error sqrt(S^2 / k + C), k - 1 degrees of freedom (as `two_way`), from the noncentral t."""
    var = est.seed_var / k + max(est.input_var, 0.0)
    if not (np.isfinite(var) and var > 0 and k >= 2):
        return math.nan
    nc, crit = abs(gap) / math.sqrt(var), stats.t.ppf(1 - alpha / 2, k - 1)
    if nc > 37:  # beyond the noncentral t's numerical range: the test detects it surely
        return 1.0
    value = float(stats.nct.sf(crit, k - 1, nc) + stats.nct.cdf(-crit, k - 1, nc))
    if not np.isfinite(value):  # never skipped: the normal approximation of the same test
        value = float(stats.norm.sf(crit - nc) + stats.norm.cdf(-crit - nc))
    return value


def seeds_for_power(
    est: Estimate, gap: float, target: float = 0.8, n_tests: int = 1, most: int = 1000
) -> float:
    """Seeds (at this test size) a test of this estimate's design needs to detect `gap` with `target` power at
    ALPHA / n_tests (Bonferroni, a bound on Holm), from the measured S^2 and C (`power`). NaN if the variance is
    unknown; inf if more than `most` seeds, or if the inputs' shared error C alone keeps the power below the
    target (more test inputs are needed then, not more seeds)."""
    if not (np.isfinite(est.seed_var) and est.seed_var >= 0 and np.isfinite(gap) and gap != 0):
        return math.nan
    alpha = ALPHA / max(1, n_tests)
    if not est.seed_var / 2 + max(est.input_var, 0.0) > 0:
        return math.nan
    if (
        power(est, gap, most, alpha) < target
    ):  # not even at `most` seeds (or the inputs' floor is too high)
        return math.inf
    for k in range(2, most + 1):
        if power(est, gap, k, alpha) >= target:
            return float(k)
    return math.inf
