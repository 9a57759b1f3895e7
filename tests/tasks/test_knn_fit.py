"""The KNN task's choice of k against brute force: scikit-learn's GridSearchCV, one fit and one prediction per k and
fold, gives the same cross-validated accuracy for every k, hence the same k."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import make_scorer
from sklearn.model_selection import GridSearchCV, PredefinedSplit
from sklearn.neighbors import KNeighborsClassifier

from tasks.knn_fit import _mean_accuracy, cv_accuracy_by_k, fit_knn


def _grid_search(z, y, fold, grid) -> np.ndarray:
    search = GridSearchCV(
        KNeighborsClassifier(),
        {"n_neighbors": grid},
        cv=PredefinedSplit(fold),
        scoring=make_scorer(_mean_accuracy),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(z, y)
    return search.cv_results_["mean_test_score"]


def _case(seed: int, multilabel: bool, samples: int):
    """P points in C class-ordered blocks (so folds j % 2 are stratified), S samples each: identical copies for
    samples=-S (a deterministic method), noisy ones otherwise; labels that overlap, so k matters."""
    rng = np.random.default_rng(seed)
    points, copies = int(rng.integers(6, 30)), abs(samples)
    centre = rng.normal(size=(points, 1, int(rng.integers(1, 4))))
    spread = 0.0 if samples < 0 else rng.uniform(0.1, 1.0)
    z = centre + spread * rng.normal(size=(points, copies, centre.shape[2]))
    if multilabel:
        y = (centre[:, 0, :1] + rng.normal(size=(points, 3)) > 0).astype(int)
    else:
        y = np.sort(rng.integers(0, int(rng.integers(2, 5)), size=points))
    return z, y


@pytest.mark.parametrize("multilabel", [False, True])
@pytest.mark.parametrize("samples", [1, 4, -4])
def test_cv_accuracy_by_k_is_grid_searchs_mean_test_score(multilabel, samples):
    for seed in range(12):
        z, y = _case(seed, multilabel, samples)
        rows_z = z.reshape(len(z) * z.shape[1], -1)
        rows_y = np.repeat(y, z.shape[1], axis=0)
        fold = np.repeat(np.arange(len(z)) % 2, z.shape[1])
        grid = [k for k in range(1, 11) if k <= min((fold != f).sum() for f in (0, 1))]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = cv_accuracy_by_k(rows_z, rows_y, fold, grid)
        np.testing.assert_array_equal(ours, _grid_search(rows_z, rows_y, fold, grid))
        k = fit_knn(z, y, list(range(1, 11))).n_neighbors
        assert k == grid[int(np.argmax(ours))]


def test_equal_scores_choose_the_smallest_k():
    z = np.array([0.0, 0.1, 5.0, 5.1, 0.05, 0.15, 5.05, 5.15])[:, None, None]  # two far clusters
    y = np.array([0, 0, 1, 1, 0, 0, 1, 1])
    fold = np.arange(8) % 2
    assert (cv_accuracy_by_k(z[:, 0], y, fold, [1, 2, 3]) == 1.0).all()
    assert fit_knn(z, y, [3, 2, 1]).n_neighbors == 1
