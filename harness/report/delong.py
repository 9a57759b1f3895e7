"""AUROC tests on per-input scores: DeLong's covariance of correlated ROC curves (`delong`) and, from it, the
AUROC difference of two methods (`auroc_difference`) or one method's AUROC (`auroc_level`) over seeds that score
the same test inputs, with the two-way (seeds x inputs) variance of `harness.report.paired.two_way`."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from harness.report.paired import TWO_WAY, Estimate, two_way


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


def auroc_difference(
    per_seed: list[tuple[np.ndarray, np.ndarray, np.ndarray]], shared_inputs: bool = True
) -> Estimate:
    """AUROC(a) - AUROC(b) from `(scores_a, scores_b, labels)` per seed, on the same inputs within a seed and, with
    `shared_inputs`, across seeds too (the labels must then be identical). Mean over seeds, two-way variance."""
    per_seed = list(per_seed)
    if not per_seed:
        return Estimate(math.nan, math.nan, 0, TWO_WAY, 0)
    if shared_inputs:
        labels = _common_labels([t[2] for t in per_seed])
        auc, cov = delong(np.vstack([row for a, b, _ in per_seed for row in (a, b)]), labels)
        contrast = np.kron(np.eye(len(per_seed)), [1.0, -1.0])  # d_s = AUROC(a_s) - AUROC(b_s)
        return two_way(contrast @ auc, contrast @ cov @ contrast.T, len(labels))
    effects, variances = [], []
    for a, b, labels in per_seed:
        auc, cov = delong(np.vstack([a, b]), labels)
        effects.append(auc[0] - auc[1])
        variances.append(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    return two_way(np.asarray(effects), np.diag(variances), len(per_seed[0][2]))


def auroc_level(
    per_seed: list[tuple[np.ndarray, np.ndarray]], shared_inputs: bool = True
) -> Estimate:
    """AUROC from `(scores, labels)` per seed (mean over seeds, two-way variance, as `auroc_difference`)."""
    per_seed = list(per_seed)
    if not per_seed:
        return Estimate(math.nan, math.nan, 0, TWO_WAY, 0)
    if shared_inputs:
        labels = _common_labels([t[1] for t in per_seed])
        auc, cov = delong(np.vstack([scores for scores, _ in per_seed]), labels)
        return two_way(auc, cov, len(labels))
    fits = [delong(scores, labels) for scores, labels in per_seed]
    return two_way(
        np.array([auc[0] for auc, _ in fits]),
        np.diag([cov[0, 0] for _, cov in fits]),
        len(per_seed[0][1]),
    )


def _common_labels(per_seed: list[np.ndarray]) -> np.ndarray:
    first = np.asarray(per_seed[0])
    if any(len(x) != len(first) or not np.array_equal(x, first) for x in per_seed[1:]):
        raise ValueError(
            "shared_inputs=True needs every seed scored on the same inputs (the labels differ between seeds); "
            "pass shared_inputs=False for seeds with test sets of their own."
        )
    return first
