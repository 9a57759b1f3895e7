"""Scores of detectors and classifiers shared by the tasks: AUROC (also within covariate strata), AUPR, FPR@95%TPR,
accuracy, ECE/MCE/RMSCE.

Detection metrics take `scores` (higher = more positive) and binary `labels` (1 = positive, e.g. OOD) and are
scikit-learn's (`roc_auc_score`, `average_precision_score`, `roc_curve`). Calibration metrics take class
probabilities `probs [N, C]` and integer `labels [N]`: predictions are bucketed by their confidence
(the max probability) into `N_BINS` = 15 equal-width bins (lo, hi] over [0, 1] (Guo et al., 2017); with
acc_b / conf_b the accuracy and mean confidence in bin b and w_b its fraction of the N predictions,
ECE = sum_b w_b |acc_b - conf_b|, MCE = max over non-empty bins of |acc_b - conf_b|,
RMSCE = sqrt(sum_b w_b (acc_b - conf_b)^2). Inputs may be numpy arrays, tensors or lists.
"""

from __future__ import annotations

import numpy as np

N_BINS = 15


def _np(a) -> np.ndarray:
    return a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)


# --- detection (OOD is the positive class) ---------------------------------------------------------------
def auroc(scores, labels) -> float:
    """Area under the ROC curve: P(score of a positive > score of a negative), ties counting 1/2."""
    from sklearn.metrics import roc_auc_score  # on use: a cached rerun need not load scikit-learn

    return float(roc_auc_score(_np(labels), _np(scores)))


def matched_auroc(scores, labels, covariate, bins: int = 10) -> float:
    """AUROC within strata of a covariate (e.g. ink, the mean pixel intensity): inputs are binned by the
    covariate's quantiles over all inputs, and the AUROC is P(score of a positive > score of a negative) over
    the positive-negative pairs in the SAME bin (ties 1/2), i.e. each bin's AUROC weighted by its number of
    pairs. A score that only tracks the covariate gets about 0.5; what is left is detection beyond it. NaN when
    no bin holds both classes."""
    scores, labels, covariate = (
        _np(scores).astype(float),
        _np(labels).astype(int),
        _np(covariate).astype(float),
    )
    edges = np.unique(np.quantile(covariate, np.linspace(0, 1, bins + 1)))
    stratum = np.clip(
        np.searchsorted(edges, covariate, side="right") - 1, 0, max(len(edges) - 2, 0)
    )
    wins = pairs = 0.0
    for b in np.unique(stratum):
        pos, neg = scores[(stratum == b) & (labels == 1)], scores[(stratum == b) & (labels == 0)]
        if len(pos) and len(neg):
            wins += (
                auroc(np.r_[pos, neg], np.r_[np.ones(len(pos)), np.zeros(len(neg))])
                * len(pos)
                * len(neg)
            )
            pairs += len(pos) * len(neg)
    return float(wins / pairs) if pairs else float("nan")


def aupr(scores, labels) -> float:
    """Area under the precision-recall curve (average precision) with the positives as the target class."""
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(_np(labels), _np(scores)))


def fpr_at_tpr(scores, labels, tpr: float = 0.95) -> float:
    """The smallest false-positive rate of any threshold whose true-positive rate is at least `tpr`."""
    # drop_intermediate=False: a dropped collinear point may be the first one to reach the TPR level
    from sklearn.metrics import roc_curve

    fprs, tprs, _ = roc_curve(_np(labels), _np(scores), drop_intermediate=False)
    return float(fprs[np.argmax(tprs >= tpr - 1e-12)])


def fpr95(scores, labels) -> float:
    """FPR at 95% TPR."""
    return fpr_at_tpr(scores, labels, 0.95)


# --- classification and calibration ---------------------------------------------------------------------
def accuracy(probs, labels) -> float:
    """Fraction of argmax predictions equal to the labels. probs [N, C], labels [N]."""
    return float((_np(probs).argmax(1) == _np(labels)).mean())


def calibration_bins(probs, labels, n_bins: int = N_BINS) -> dict[str, np.ndarray]:
    """Per confidence bin: `count`, `accuracy` and mean `confidence` (NaN where empty), and the `edges`."""
    probs, labels = _np(probs).astype(np.float64), _np(labels)
    conf = probs.max(1)
    correct = (probs.argmax(1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.searchsorted(
        edges[1:-1], conf, side="left"
    )  # bin b holds edges[b] < conf <= edges[b+1]
    count = np.bincount(which, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.bincount(which, weights=correct, minlength=n_bins) / count
        mean_conf = np.bincount(which, weights=conf, minlength=n_bins) / count
    return {"count": count, "accuracy": acc, "confidence": mean_conf, "edges": edges}


def calibration_errors(probs, labels, n_bins: int = N_BINS) -> dict[str, float]:
    """`ece`, `mce` and `rmsce` (see the module docstring) from one binning."""
    bins = calibration_bins(probs, labels, n_bins)
    full = bins["count"] > 0
    weight = bins["count"][full] / bins["count"].sum()
    gap = np.abs(bins["accuracy"][full] - bins["confidence"][full])
    return {
        "ece": float((weight * gap).sum()),
        "mce": float(gap.max()),
        "rmsce": float(np.sqrt((weight * gap**2).sum())),
    }


def ece(probs, labels, n_bins: int = N_BINS) -> float:
    return calibration_errors(probs, labels, n_bins)["ece"]


def mce(probs, labels, n_bins: int = N_BINS) -> float:
    return calibration_errors(probs, labels, n_bins)["mce"]


def rmsce(probs, labels, n_bins: int = N_BINS) -> float:
    return calibration_errors(probs, labels, n_bins)["rmsce"]
