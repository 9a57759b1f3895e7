"""Tests for tasks.metrics, tasks.ood, tasks.imputation, tasks.knn on the synthetic 1x8x8 set.

Metrics are checked against independent computations (pairwise AUROC count, hand-worked FPR@95 and
calibration bins). Tasks run with a real tiny fitted `ae` (deterministic) and with `NoisyStub`, a stochastic
stand-in whose `_sample` adds seeded noise, through a hand-built EvalContext. Each test takes seconds.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

import methods
import tasks
from harness.datasets import Dataset, load_dataset
from harness.store.models import ModelCache
from methods.base import Method, ModelSpec, Samples
from tasks import metrics
from tasks.base import EvalContext
from tasks.imputation import impute, observed_mask
from tasks.knn_fit import fit_knn, labelled_split, multilabel_split


# ----------------------------------------------------------------------------- fixtures
class NoisyStub(Method):
    """Stochastic stand-in: latents = fixed projection of x + noise, recon = x + noise, predicted variance."""

    key = "noisy_stub"

    def __init__(self, image_shape, latent_dim=2, noise=0.1):
        super().__init__(ModelSpec("noisy_stub"), image_shape)
        g = torch.Generator().manual_seed(0)
        self.projection = torch.randn(int(np.prod(image_shape)), latent_dim, generator=g) / 4
        self.noise = noise
        self.fitted_ = True

    def _sample(self, x, n):
        z = x.flatten(1) @ self.projection
        latents = z + self.noise * torch.randn(n, *z.shape)
        recon = x + self.noise * torch.randn(n, *x.shape)
        return Samples(latents=latents, recon=recon, variance=torch.full((n, *x.shape), 0.01))


class ConstantMethod(Method):
    """Reconstructs every pixel as 0.5: the imputation of a missing pixel is then known in closed form."""

    key = "constant"

    def __init__(self, image_shape):
        super().__init__(ModelSpec("constant"), image_shape)
        self.fitted_ = True

    def _sample(self, x, n):
        return Samples(latents=torch.zeros(n, len(x), 2), recon=torch.full((n, *x.shape), 0.5))


@pytest.fixture(scope="module")
def synthetic():
    return load_dataset("synthetic")


@pytest.fixture(scope="module")
def ae(synthetic):
    spec = ModelSpec(
        "ae",
        model={"arch": "mlp", "latent_dim": 2, "hidden": [16, 8]},
        train={"max_epochs": 3, "batch_size": 64},
        seed=0,
    )
    return methods.get("ae")(spec, synthetic.image_shape).fit(synthetic, reporter=lambda m: None)


def make_ctx(method, data, tmp_path, extra=None, seed=0) -> EvalContext:
    return EvalContext(
        experiment="test",
        method_label=getattr(method, "key", "none"),
        method=method,
        data=data,
        extra_data=extra or {},
        point={},
        seed=seed,
        device=torch.device("cpu"),
        artifact_dir=tmp_path / "artifacts",
        aux_model=ModelCache(tmp_path / "models").get_or_train,
    )


def as_dict(rows):
    return {r["metric"]: r["value"] for r in rows}


# ----------------------------------------------------------------------------- metrics
def test_auroc_aupr_match_independent_counts():
    rng = np.random.default_rng(0)
    scores = np.round(rng.normal(size=60), 1)  # rounding creates ties
    labels = (rng.random(60) < 0.4).astype(int)
    pos, neg = scores[labels == 1], scores[labels == 0]
    pairwise = np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])
    assert metrics.auroc(scores, labels) == pytest.approx(pairwise)
    # perfect separation
    assert metrics.auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert metrics.aupr([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    # precision at each positive, averaged: ranks 1 (pos), 2 (neg), 3 (pos) -> (1 + 2/3) / 2
    assert metrics.aupr([0.9, 0.8, 0.7], [1, 0, 1]) == pytest.approx((1 + 2 / 3) / 2)


def test_fpr95_hand_made():
    pos = np.arange(1, 21, dtype=float)  # 20 positives: TPR 0.95 needs the threshold at 2
    neg = np.array([0.5, 1.5, 2.5, 30.0])  # at threshold 2, negatives 2.5 and 30 pass: FPR 2/4
    scores = np.r_[pos, neg]
    labels = np.r_[np.ones(20), np.zeros(4)]
    assert metrics.fpr95(scores, labels) == pytest.approx(0.5)
    assert metrics.fpr95([3, 4, 1, 2], [1, 1, 0, 0]) == 0.0
    assert metrics.fpr95([1, 2, 3, 4], [1, 1, 0, 0]) == 1.0


def test_matched_auroc_hand_worked():
    """Two ink strata. Dark: in (0.1, 0.3), OOD (0.2): 1 win of 2 pairs. Bright: in (0.9), OOD (0.5, 0.95): 1 win
    of 2 pairs. Within-stratum pairs: 2 wins of 4 -> 0.5, although the score alone (it follows ink) gives
    2/3 = 0.667 over all pairs."""
    scores = [0.1, 0.3, 0.2, 0.9, 0.5, 0.95]
    labels = [0, 0, 1, 0, 1, 1]
    ink = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    assert metrics.matched_auroc(scores, labels, ink, bins=2) == pytest.approx(0.5)
    assert metrics.auroc(scores, labels) == pytest.approx(6 / 9)
    # a stratum with one class only adds no pairs
    assert metrics.matched_auroc(
        [0.1, 0.2, 0.9], [0, 1, 1], [0.0, 0.0, 1.0], bins=2
    ) == pytest.approx(1.0)


def test_calibration_hand_worked():
    # 15 bins of width 1/15 over (lo, hi]:
    #   conf 0.95, correct  -> bin 14 (0.933, 1]      bin 14: acc 1/2, conf 0.95, weight 2/4, gap 0.45
    #   conf 0.95, wrong    -> bin 14
    #   conf 0.55, correct  -> bin 8  (0.533, 0.6]    bin 8:  acc 1,   conf 0.55, weight 1/4, gap 0.45
    #   conf 0.70, wrong    -> bin 10 (0.667, 0.733]  bin 10: acc 0,   conf 0.70, weight 1/4, gap 0.70
    probs = np.array([[0.95, 0.05], [0.05, 0.95], [0.45, 0.55], [0.7, 0.3]])
    labels = np.array([0, 0, 1, 1])
    bins = metrics.calibration_bins(probs, labels)
    assert bins["count"].tolist() == [0] * 8 + [1, 0, 1, 0, 0, 0, 2]
    ece = 0.5 * 0.45 + 0.25 * 0.45 + 0.25 * 0.70
    rmsce = math.sqrt(0.5 * 0.45**2 + 0.25 * 0.45**2 + 0.25 * 0.70**2)
    errors = metrics.calibration_errors(probs, labels)
    assert errors["ece"] == pytest.approx(ece) == metrics.ece(probs, labels)
    assert errors["mce"] == pytest.approx(0.70) == metrics.mce(probs, labels)
    assert errors["rmsce"] == pytest.approx(rmsce) == metrics.rmsce(probs, labels)
    assert metrics.accuracy(probs, labels) == 0.5
    assert metrics.accuracy(torch.tensor(probs), torch.tensor(labels)) == 0.5


# ----------------------------------------------------------------------------- ood
@pytest.fixture(scope="module")
def ood_data():
    return load_dataset("synthetic", classes=[0, 1]), load_dataset("synthetic", classes=[2, 3])


def test_ood_deterministic_ae_has_no_variance_metrics(ae, ood_data, tmp_path):
    data_in, data_out = ood_data
    task = tasks.get("ood")({"n_samples": 3, "typicality_train": 50})
    rows = task.evaluate(make_ctx(ae, data_in, tmp_path, {"ood": data_out}))
    got = as_dict(rows)
    assert set(got) == {
        f"{m}/{c}{s}"
        for m in ("auroc", "aupr", "fpr95", "auroc_inkmatched")
        for c in ("", "authors/")
        for s in ("log_px", "typicality")
    } | {"auroc/ink"}
    assert all(0 <= v <= 1 for v in got.values())
    art = tmp_path / "artifacts"
    assert got["auroc/ink"] == pytest.approx(
        metrics.auroc(
            pd.read_csv(art / "scores.csv")["ink"], pd.read_csv(art / "scores.csv")["is_ood"]
        )
    )
    table = pd.read_csv(art / "scores.csv")
    assert len(table) == len(data_in.test_x) + len(data_out.test_x)
    assert "sigma2_output" not in table and "sigma2_latent" not in table
    for s in ("log_px", "typicality"):
        assert metrics.auroc(table[s], table["is_ood"]) == pytest.approx(got[f"auroc/{s}"])
        assert metrics.matched_auroc(table[s], table["is_ood"], table["ink"]) == pytest.approx(
            got[f"auroc_inkmatched/{s}"]
        )
        assert metrics.fpr95(table[s], table["is_ood"]) == pytest.approx(got[f"fpr95/{s}"])
    assert np.allclose(table["log_px"], -table["log_px_raw"])
    assert (art / "roc_curves.png").stat().st_size > 0
    assert not (art / "variance_histograms.png").exists()
    assert (
        task.direction("auroc/log_px") == "max" and task.direction("fpr95/sigma2_latent") == "min"
    )


def test_ood_stochastic_method_emits_all_scores(ood_data, tmp_path):
    data_in, data_out = ood_data
    stub = NoisyStub(data_in.image_shape)
    rows = tasks.get("ood")({"n_samples": 4, "max_test": 30}).evaluate(
        make_ctx(stub, data_in, tmp_path, {"ood": data_out})
    )
    got = as_dict(rows)
    assert {
        f"auroc/{s}" for s in ("log_px", "typicality", "sigma2_output", "sigma2_latent")
    } <= set(got)
    table = pd.read_csv(tmp_path / "artifacts" / "scores.csv")
    assert len(table) == 60 and table["is_ood"].sum() == 30
    for s in ("sigma2_output", "sigma2_latent"):
        pairwise = np.mean(
            [
                (p > n) + 0.5 * (p == n)
                for p in table[s][table.is_ood == 1]
                for n in table[s][table.is_ood == 0]
            ]
        )
        assert got[f"auroc/{s}"] == pytest.approx(pairwise)
    assert (table["sigma2_output"] >= 0.01).all()  # includes the predicted variance
    assert (tmp_path / "artifacts" / "variance_histograms.png").exists()
    assert tasks.get("ood").data_roles == ("ood",)


# ----------------------------------------------------------------------------- imputation
@pytest.mark.parametrize("which", ["ae", "stub"])
def test_imputation_never_changes_observed_pixels(which, ae, synthetic):
    method = ae if which == "ae" else NoisyStub(synthetic.image_shape, noise=0.3)
    x = synthetic.test_x[:12]
    observed = observed_mask(synthetic.image_shape, "upper_half")
    assert observed[:, 4:].all() and not observed[:, :4].any()
    imps = impute(
        method,
        x,
        observed,
        n_first=3,
        n_refine=2,
        n_iterations=3,
        seed=1,
        noise=torch.rand(x.shape),
    )
    assert imps.shape == (3, *x.shape)
    assert torch.equal(imps[:, :, observed], x[:, observed].expand(3, -1, -1))
    assert not torch.equal(imps[:, :, ~observed], x[:, ~observed].expand(3, -1, -1))


def test_imputation_metrics_closed_form(synthetic, tmp_path):
    """Every missing pixel is imputed as 0.5, so mse and log p(x) are known exactly."""
    task = tasks.get("imputation")({"max_test": 40, "n_iterations": 2, "classifier_epochs": 1})
    got = as_dict(
        task.evaluate(make_ctx(ConstantMethod(synthetic.image_shape), synthetic, tmp_path))
    )
    x = synthetic.test_x[:40]
    se = ((x[:, :, :4] - 0.5) ** 2).flatten(1).sum(1)
    assert got["mse"] == pytest.approx(float(se.mean()), rel=1e-5)
    assert got["log_px"] == pytest.approx(-float(se.mean()), rel=1e-5)  # the authors' convention
    assert got["gaussian_log_px"] == pytest.approx(
        float((-0.5 * se - 0.5 * 32 * math.log(2 * math.pi)).mean()), rel=1e-5
    )


def test_imputation_task_end_to_end(ae, synthetic, tmp_path):
    params = {
        "max_test": 40,
        "n_first": 3,
        "n_refine": 2,
        "n_iterations": 2,
        "classifier_epochs": 2,
    }
    ctx = make_ctx(NoisyStub(synthetic.image_shape), synthetic, tmp_path)
    got = as_dict(tasks.get("imputation")(params).evaluate(ctx))
    names = ["mse", "log_px", "accuracy", "ece", "mce", "rmsce"]
    assert set(got) == set(names) | {"gaussian_log_px"} | {f"classifier/{m}" for m in names[2:]}
    assert all(0 <= got[m] <= 1 for m in got if m.endswith(("accuracy", "ce")))
    art = tmp_path / "artifacts"
    assert {"imputations.png", "reliability.png", "per_input.csv"} <= {
        p.name for p in art.iterdir()
    }
    assert len(list((tmp_path / "models").glob("classifier-*/model.pt"))) == 1
    # a second method reuses the cached classifier: same classifier/* numbers (they do not depend on the method)
    again = as_dict(tasks.get("imputation")(params).evaluate(make_ctx(ae, synthetic, tmp_path)))
    assert len(list((tmp_path / "models").glob("classifier-*/model.pt"))) == 1
    assert all(again[f"classifier/{m}"] == got[f"classifier/{m}"] for m in names[2:])
    task = tasks.get("imputation")
    assert task.direction("mse") == "min" and task.direction("classifier/accuracy") == "max"
    assert task.direction("classifier/rmsce") == "min" and task.direction("log_px") == "max"


def test_generation_writes_grid_only(ae, synthetic, tmp_path):
    rows = tasks.get("imputation")({"mask": "full", "n_iterations": 2}).evaluate(
        make_ctx(ae, synthetic, tmp_path)
    )
    assert rows == []
    assert (tmp_path / "artifacts" / "generation.png").exists()
    with pytest.raises(ValueError, match="mask"):
        tasks.get("imputation")({"mask": "left_half"})


# ----------------------------------------------------------------------------- knn
def test_labelled_split_exact_counts_disjoint_nested():
    y = np.repeat(np.arange(4), [10, 7, 12, 9])
    for n in (1, 3, 7):
        labelled, rest = labelled_split(y, n, seed=3, repetition=1)
        assert np.bincount(y[labelled]).tolist() == [n] * 4
        assert len(np.intersect1d(labelled, rest)) == 0 and len(labelled) + len(rest) == len(y)
    small, _ = labelled_split(y, 2, seed=3, repetition=1)
    large, _ = labelled_split(y, 5, seed=3, repetition=1)
    assert set(small) <= set(large)
    assert not np.array_equal(labelled_split(y, 5, 3, 0)[0], labelled_split(y, 5, 3, 1)[0])
    with pytest.raises(ValueError, match="fewer"):
        labelled_split(y, 8, seed=0, repetition=0)
    lab, rest = multilabel_split(50, 10, seed=0, repetition=0)
    assert len(lab) == 10 and len(np.intersect1d(lab, rest)) == 0 and len(rest) == 40


def test_fit_knn_keeps_k_within_fold():
    z = np.random.default_rng(0).normal(size=(4, 1, 2))  # 4 points, 1 sample: training folds hold 2
    knn = fit_knn(z, np.array([0, 0, 1, 1]), k_grid=[1, 3, 5])
    assert knn.n_neighbors == 1


@pytest.mark.parametrize("which", ["ae", "stub"])
def test_knn_task(which, ae, synthetic, tmp_path):
    method = ae if which == "ae" else NoisyStub(synthetic.image_shape)
    params = {"labels_per_class": [1, 2, 5, 100], "repetitions": 2, "n_embed": 10}
    with pytest.warns(UserWarning, match="skipped"):
        got = as_dict(tasks.get("knn")(params).evaluate(make_ctx(method, synthetic, tmp_path)))
    assert set(got) == {"accuracy/n=1", "accuracy/n=2", "accuracy/n=5"}  # 100 > the smallest class
    assert all(0 <= v <= 1 for v in got.values())
    table = pd.read_csv(tmp_path / "artifacts" / "accuracies.csv")
    # evaluated on exactly the unlabelled validation points
    assert (table["n_eval"] == len(synthetic.val_y) - 4 * table["n"]).all()
    assert table.groupby("n").accuracy.mean().to_dict() == pytest.approx(
        {1: got["accuracy/n=1"], 2: got["accuracy/n=2"], 5: got["accuracy/n=5"]}
    )
    assert (tmp_path / "artifacts" / "accuracy_vs_labels.png").exists()


def test_knn_multilabel(synthetic, tmp_path):
    def attrs(y):  # three binary attributes of the four classes
        return torch.stack([y % 2, y // 2, (y == 3).long()], 1)

    d = synthetic
    data = Dataset(
        "multi",
        d.train_x,
        attrs(d.train_y),
        d.val_x,
        attrs(d.val_y),
        d.test_x,
        attrs(d.test_y),
        label_names=["Odd", "High", "Three"],
    )
    got = as_dict(
        tasks.get("knn")({"repetitions": 2, "n_embed": 5, "max_eval": 50}).evaluate(
            make_ctx(NoisyStub(d.image_shape), data, tmp_path)
        )
    )
    assert set(got) == {"accuracy/Odd", "accuracy/High", "accuracy/Three", "accuracy/overall"}
    assert got["accuracy/overall"] == pytest.approx(
        np.mean([got[f"accuracy/{a}"] for a in ("Odd", "High", "Three")])
    )
    table = pd.read_csv(tmp_path / "artifacts" / "accuracies.csv")
    assert (table["n_eval"] == 50).all() and (table["n"] == 10).all()


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="labels_per_class"):
        tasks.get("knn")({"labels_per_class": [0, 2]})
    with pytest.raises(ValueError, match="cv_folds"):
        tasks.get("knn")({"cv_folds": 1})
    with pytest.raises(ValueError, match="n_samples"):
        tasks.get("ood")({"n_samples": 0})
    with pytest.raises(ValueError, match="Unknown parameter"):
        tasks.get("imputation")({"n_samples": 3})
    assert tasks.get("ood")({"max_test": None}).params["max_test"] is None
