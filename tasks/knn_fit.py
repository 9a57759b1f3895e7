"""The KNN classifier of the `knn` task: labelled splits (nested in the label count), k chosen by a cross-
validation that keeps a point's samples together, an ensemble's vote over its members."""

from __future__ import annotations

import warnings

import numpy as np


def labelled_split(
    y: np.ndarray, n_per_class: int, seed: int, repetition: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of exactly `n_per_class` labelled points per class (class-ordered) and of all the others.

    Raises ValueError when a class has fewer than `n_per_class` points. Nested: for a given seed and
    repetition, the labelled set for n is contained in the one for any larger n.
    """
    y = np.asarray(y)
    rng = np.random.default_rng([seed, repetition])
    labelled = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        if len(members) < n_per_class:
            raise ValueError(
                f"Class {c} has {len(members)} points, fewer than the {n_per_class} labels asked for."
            )
        labelled.append(rng.permutation(members)[:n_per_class])
    labelled = np.concatenate(labelled)
    return labelled, np.setdiff1d(np.arange(len(y)), labelled)


def multilabel_split(
    n_points: int, n_labelled: int, seed: int, repetition: int
) -> tuple[np.ndarray, np.ndarray]:
    """`n_labelled` random points (labelled) and the others, for multi-label data."""
    if n_labelled >= n_points:
        raise ValueError(
            f"Cannot label {n_labelled} of {n_points} points and keep any for evaluation."
        )
    perm = np.random.default_rng([seed, repetition]).permutation(n_points)
    return perm[:n_labelled], np.sort(perm[n_labelled:])


def majority_vote(knns: list, z_eval: list[np.ndarray]) -> np.ndarray:
    """The class most members' KNNs predict for each point (each KNN gets its own member's embedding).

    Ties go to the tied class whose predicted probability, summed over members, is largest (that sum is
    below M, so divided by M + 1 it never outweighs one vote). Multi-label KNNs vote per attribute.
    """
    preds = np.stack([knn.predict(z) for knn, z in zip(knns, z_eval)])  # [M, n] or [M, n, A]
    probas = [
        knn.predict_proba(z) for knn, z in zip(knns, z_eval)
    ]  # [n, C] each, or A such arrays each

    def vote(pred: np.ndarray, proba: list[np.ndarray], classes: np.ndarray) -> np.ndarray:
        votes = (pred[:, :, None] == classes[None, None, :]).sum(0)  # [n, C]
        return classes[(votes + sum(proba) / (len(proba) + 1)).argmax(1)]

    if preds.ndim == 2:
        return vote(preds, probas, knns[0].classes_)
    return np.stack(
        [
            vote(preds[:, :, a], [pr[a] for pr in probas], knns[0].classes_[a])
            for a in range(preds.shape[2])
        ],
        1,
    )


def _mean_accuracy(y_true, y_pred) -> float:
    """Accuracy, averaged over attributes for multi-label targets (subset accuracy is ~0 with 40 of them)."""
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def cv_accuracy_by_k(z: np.ndarray, y: np.ndarray, fold: np.ndarray, grid: list[int]) -> np.ndarray:
    """Each k's accuracy averaged over the folds (rows of fold f predicted by a KNN fit on the other rows): the
    `mean_test_score` of scikit-learn's GridSearchCV over `n_neighbors` with `PredefinedSplit(fold)`, with one
    neighbour search per fold for all of `grid` instead of a fit and a prediction per k and fold.

    A row's prediction at k is the most common label among its k nearest training rows, ties to the smallest
    label, as KNeighborsClassifier predicts; `y` is `[n]` or `[n, A]` (a vote per attribute)."""
    # on use: importing the task loads no scikit-learn
    from sklearn.neighbors import KNeighborsClassifier

    scores = []
    for f in np.unique(fold):
        train, test = fold != f, fold == f
        knn = KNeighborsClassifier(n_neighbors=max(grid)).fit(z[train], y[train])
        near = knn.kneighbors(z[test], return_distance=False)  # [n_test, max k], nearest first
        y_train = y[train].reshape(int(train.sum()), -1)
        votes = []  # per attribute: [n_test, max k, classes], the votes of the first j + 1 neighbours
        for a in range(y_train.shape[1]):
            classes, codes = np.unique(y_train[:, a], return_inverse=True)
            onehot = codes[near][:, :, None] == np.arange(len(classes))
            votes.append((classes, onehot.cumsum(1)))

        def predict(k: int) -> np.ndarray:  # argmax: ties to the smallest label
            return np.stack([c[v[:, k - 1].argmax(1)] for c, v in votes], -1).reshape(y[test].shape)

        scores.append([_mean_accuracy(y[test], predict(k)) for k in grid])
    return np.mean(scores, axis=0)


def fit_knn(z: np.ndarray, y: np.ndarray, k_grid: list[int], cv_folds: int = 2) -> object:
    """KNN on the labelled embeddings z `[P, S, K]` (S samples of P points), labels y `[P]` or `[P, A]`.

    Fold of point j is j % cv_folds (points class-ordered, so folds are stratified); all S samples of a
    point share its fold. k is chosen by cross-validated mean accuracy over the feasible part of `k_grid`, the
    smallest k among equals (GridSearchCV's choice; `cv_accuracy_by_k`).
    """
    # on use: importing the task loads no scikit-learn
    from sklearn.neighbors import KNeighborsClassifier

    n_points, n_samples = z.shape[:2]
    rows_z = z.reshape(n_points * n_samples, -1)
    rows_y = np.repeat(y, n_samples, axis=0)
    folds = min(cv_folds, n_points)
    if folds < 2:
        return KNeighborsClassifier(n_neighbors=1).fit(rows_z, rows_y)
    fold = np.repeat(np.arange(n_points) % folds, n_samples)
    smallest_train = min(int((fold != f).sum()) for f in range(folds))
    grid = sorted({k for k in k_grid if k <= smallest_train}) or [1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # folds may miss classes when n is 1
        best = grid[int(np.argmax(cv_accuracy_by_k(rows_z, rows_y, fold, grid)))]
    return KNeighborsClassifier(n_neighbors=best).fit(rows_z, rows_y)
