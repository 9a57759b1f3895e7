"""Intervals and rounding shared by the leaderboard, the reproduction report and its figures.

`ci95_half(values)`: half-width of the 95% Student-t interval of a mean over seeds; `unit_interval(values)` the
same for proportions, on the logit scale so that it stays inside [0, 1]. `fmt_ci(mean, half)`:
both rounded to 2 significant digits of the half-width ("3.27 ± 0.10", "9700 ± 2500"), so a number never
shows more digits than its interval supports (a half-width that is float noise on a constant is no interval); `fmt_number(x)`: 3 significant digits where there is no interval.
"""

from __future__ import annotations

import math

import numpy as np


def ci95_half(values) -> float:
    """Half-width of the 95% Student-t interval of the mean of `values` (NaN below 2 values)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    n = len(values)
    from scipy import (
        stats,
    )  # on use: the summary of a run imports this module and need not load scipy

    return float(stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / np.sqrt(n)) if n > 1 else math.nan


def unit_interval(values) -> tuple[float, float]:
    """95% interval of the mean of proportions that stays inside [0, 1]: the Student-t interval of the mean of
    logit(values), mapped back (values at 0 or 1 exactly: the plain t interval clipped to [0, 1]). Over 3 seeds
    AUROCs 0.9985, 0.9992, 0.9990 give (0.9977, 0.9995), the t interval (0.9980, 0.9998); 0.21, 0.97, 0.605 give
    (0.006, 0.999), not (-0.35, 1.54)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return math.nan, math.nan
    if ((values > 0) & (values < 1)).all():
        logits = np.log(values / (1 - values))
        half, centre = ci95_half(logits), logits.mean()
        low, high = centre - half, centre + half
        return float(1 / (1 + np.exp(-low))), float(1 / (1 + np.exp(-high)))
    half, mean = ci95_half(values), values.mean()
    return float(max(mean - half, 0.0)), float(min(mean + half, 1.0))


def fmt_number(x: float, sig: int = 3) -> str:
    """`x` to `sig` significant digits, without exponent notation for everyday magnitudes."""
    if not np.isfinite(x):
        return "n/a"
    if x == 0 or not 1e-4 <= abs(x) < 1e7:
        return f"{x:.{sig}g}"
    return _rounded(x, sig - 1 - math.floor(math.log10(abs(x))))


def _rounded(x: float, decimals: int) -> str:
    return f"{round(x, decimals) + 0.0:.{max(decimals, 0)}f}"


def fmt_ci(mean: float, half: float) -> str:
    """`mean ± half`, both rounded to 2 significant digits of the half-width (3 of the mean without one)."""
    if not np.isfinite(mean):
        return "n/a"
    if not np.isfinite(half) or half <= 1e-9 * abs(mean):  # no spread, or float noise on a constant
        return fmt_number(mean)
    decimals = 1 - math.floor(math.log10(half))
    return f"{_rounded(mean, decimals)} ± {_rounded(half, decimals)}"
