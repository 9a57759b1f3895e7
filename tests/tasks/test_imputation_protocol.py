"""`imputation` with `protocol: authors` (tasks/imputation_authors.py), against hand-worked numbers.

`Affine` reconstructs every pixel as a * x + b, so the authors' procedure (noise-filled input, one pass,
re-insert the observed half, one more pass, nothing re-inserted after it) has a closed form; `Constant`
(every pixel 0.5) gives the scores in closed form. The noise is regenerated from the trial seed as the task
draws it. Synthetic 1x8x8 data: the missing half is rows 0-3, 32 of 64 pixels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import methods
import tasks
from harness.store.models import ModelCache
from methods.base import Method, ModelSpec, Samples
from tasks import metrics
from tasks.base import EvalContext
from tasks.imputation_authors import authors_impute, authors_noise
from tasks.imputation_common import _predict, classifier_for, observed_mask


class Affine(Method):
    key = "affine"

    def __init__(self, image_shape, a=0.5, b=0.1):
        super().__init__(ModelSpec("affine"), image_shape)
        self.a, self.b, self.fitted_ = a, b, True
        self.calls = []

    def _sample(self, x, n):
        self.calls.append((len(x), n))
        return Samples(
            latents=torch.zeros(n, len(x), 2),
            recon=(self.a * x + self.b).expand(n, *x.shape).clone(),
        )


class Constant(Affine):
    def __init__(self, image_shape):
        super().__init__(image_shape, a=0.0, b=0.5)


def make_ctx(method, data, tmp_path, seed=0):
    return EvalContext(
        experiment="test",
        method_label="m",
        method=method,
        data=data,
        extra_data={},
        point={},
        seed=seed,
        device=torch.device("cpu"),
        artifact_dir=tmp_path / "artifacts",
        aux_model=ModelCache(tmp_path / "models").get_or_train,
    )


def filled_inputs(data, seed, batch_size=500):
    """The noise-filled validation images exactly as the task draws them (one generator, batch by batch)."""
    generator = torch.Generator().manual_seed(seed)
    observed = observed_mask(data.image_shape, "upper_half")
    parts = [
        torch.where(observed, x, authors_noise(x.shape, generator))
        for x in data.val_x.split(batch_size)
    ]
    return torch.cat(parts)


def test_noise_is_min_max_scaled_gaussian_per_image():
    noise = authors_noise((200, 1, 28, 28), torch.Generator().manual_seed(0))
    flat = noise.flatten(1)
    assert torch.allclose(flat.min(1).values, torch.zeros(200)) and torch.allclose(
        flat.max(1).values, torch.ones(200)
    )
    # 784 normals span about 6.3 sd: mean ~0.50, sd ~0.16 (the numbers)
    assert float(flat.mean()) == pytest.approx(0.5, abs=0.02)
    assert float(flat.std(1).mean()) == pytest.approx(0.16, abs=0.015)


def test_procedure_one_pass_reinsert_one_pass(data):
    method = Affine(data.image_shape, a=0.5, b=0.1)
    observed = observed_mask(data.image_shape, "upper_half")
    x = data.val_x[:5]
    filled = torch.where(observed, x, authors_noise(x.shape, torch.Generator().manual_seed(1)))
    got = authors_impute(method, filled, observed, n=4, seed=0)
    assert got.shape == (4, *x.shape)
    assert (
        method.calls == [(5, 4)] + [(5, 4)] * 4
    )  # one pass of n samples, then n samples of each of the n
    top, bottom = ~observed, observed
    # missing half: a (a noise + b) + b; observed half: re-inserted, then passed again and NOT re-inserted
    expected = torch.where(top, 0.5 * (0.5 * filled + 0.1) + 0.1, 0.5 * x + 0.1)
    assert torch.allclose(got, expected.expand_as(got))
    assert not torch.allclose(got[:, :, bottom], x[:, bottom].expand(4, -1, -1))


def test_scores_closed_form_on_validation_split(data, tmp_path):
    """Every imputation is 0.5 everywhere: mse = log-likelihood = sum over all 64 pixels of (0.5 - filled)^2."""
    task = tasks.get("imputation")({"protocol": "authors", "classifier_epochs": 1})
    ctx = make_ctx(Constant(data.image_shape), data, tmp_path)
    got = {r["metric"]: r["value"] for r in task.evaluate(ctx)}
    filled, x = filled_inputs(data, seed=0), data.val_x
    per_image = ((0.5 - filled) ** 2).flatten(1).sum(1)
    assert got["authors/mse"] == pytest.approx(float(per_image.mean()), rel=1e-5)
    assert got["authors/log_px"] == pytest.approx(-float(per_image.mean()), rel=1e-5)
    vs_true = (
        ((0.5 - x[:, :, :4]) ** 2).flatten(1).sum(1)
    )  # our metric: missing rows 0-3 against the truth
    assert got["authors/mse_vs_true"] == pytest.approx(float(vs_true.mean()), rel=1e-5)
    assert got["authors/log_px_vs_true"] == pytest.approx(-float(vs_true.mean()), rel=1e-5)
    calibration = ["accuracy", "ece", "mce", "rmsce"]
    assert set(got) == (
        {f"authors/{m}" for m in ("mse", "log_px", "mse_vs_true", "log_px_vs_true")}
        | {f"authors/{m}" for m in calibration}
        | {f"authors/classifier/{m}" for m in calibration}
    )
    # the classifier row classifies the noise-filled input
    net = classifier_for(ctx, 1)
    probs = _predict(net, filled, 500, ctx.device)
    assert got["authors/classifier/accuracy"] == pytest.approx(metrics.accuracy(probs, data.val_y))
    assert got["authors/classifier/ece"] == pytest.approx(metrics.ece(probs, data.val_y))
    table = pd.read_csv(tmp_path / "artifacts" / "per_input.csv")
    assert len(table) == len(data.val_x) and (table["label"].to_numpy() == data.val_y.numpy()).all()
    assert {"imputations.png", "reliability.png"} <= {
        p.name for p in (tmp_path / "artifacts").iterdir()
    }


def test_max_val_and_bad_parameters(data, tmp_path):
    method = Affine(data.image_shape)
    params = {
        "protocol": "authors",
        "max_val": 30,
        "authors_samples": 3,
        "batch_size": 16,
        "classifier_epochs": 1,
    }
    tasks.get("imputation")(params).evaluate(make_ctx(method, data, tmp_path))
    assert sum(b for b, _ in method.calls) == 30 * (1 + 3) and {n for _, n in method.calls} == {3}
    with pytest.raises(ValueError, match="protocol"):
        tasks.get("imputation")({"protocol": "paper"})
    for key in ("authors_samples", "max_val"):
        with pytest.raises(ValueError, match=key):
            tasks.get("imputation")({key: 0})
    task = tasks.get("imputation")
    assert task.direction("authors/mse") == "min" and task.direction("authors/log_px") == "max"
    assert (
        task.direction("authors/mse_vs_true") == "min"
        and task.direction("authors/classifier/ece") == "min"
    )
    assert task.direction("authors/accuracy") == "max" and task.default_params["protocol"] == "ours"


def test_ensemble_ten_samples_equal_its_five_members(data):
    """The authors' ensemble uses each member once; 2 x size samples (each member twice) give the same imputation."""
    spec = ModelSpec(
        "ensemble", params={"size": 3}, model={"arch": "mlp", "latent_dim": 2, "hidden": [16, 8]}
    )
    ens = methods.get("ensemble")(spec, data.image_shape)
    torch.manual_seed(0)
    ens.build()
    ens.fitted_ = True
    observed = observed_mask(data.image_shape, "upper_half")
    x = data.val_x[:8]
    filled = torch.where(observed, x, authors_noise(x.shape, torch.Generator().manual_seed(2)))
    once, twice = (
        authors_impute(ens, filled, observed, 3, 0),
        authors_impute(ens, filled, observed, 6, 0),
    )
    assert torch.allclose(once.mean(0), twice.mean(0), atol=1e-6)
    assert torch.allclose(twice[:3], twice[3:], atol=1e-6)
    sq = lambda imp: ((imp - filled) ** 2).flatten(2).sum(-1).mean(0)  # noqa: E731
    assert np.allclose(sq(once).numpy(), sq(twice).numpy(), atol=1e-5)
