"""The OOD task's two score conventions on hand-worked numbers, its evaluation split and per-method samples."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

import tasks
from harness.datasets import load_dataset
from methods.base import Samples
from tasks.base import EvalContext
from tasks.ood_scores import EPS, batch_scores, oriented


def hand_samples():
    """One 1x1x2 image x = [0, 1]; two samples: recon [0, 0] and [1, 1]; latents [0, 0] and [2, 0]."""
    x = torch.tensor([[[[0.0, 1.0]]]], dtype=torch.float64)
    recon = torch.tensor([[[[[0.0, 0.0]]]], [[[[1.0, 1.0]]]]], dtype=torch.float64)
    latents = torch.tensor([[[0.0, 0.0]], [[2.0, 0.0]]], dtype=torch.float64)
    return x, Samples(latents=latents, recon=recon)


def test_scores_of_both_conventions_by_hand():
    x, s = hand_samples()
    got = {k: float(v[0]) for k, v in batch_scores(x, s).items()}
    # each sample misses one pixel by 1: squared error 1 per sample
    assert got["authors_sse"] == pytest.approx(1.0)
    assert got["log_px"] == pytest.approx(-0.5 * 1.0 - 2 * 0.5 * math.log(2 * math.pi))
    # pixel values {0, 1} across samples: population variance 0.25 per pixel
    assert got["sigma2_output"] == pytest.approx(0.25)
    assert got["authors_std_output"] == pytest.approx(2 * math.sqrt(0.25 + EPS))
    # latent dim 0 {0, 2}: population variance 1, unbiased 2; dim 1 constant
    assert got["sigma2_latent"] == pytest.approx(0.5)
    assert got["authors_std_latent"] == pytest.approx(math.sqrt(2 + EPS) + math.sqrt(EPS))


def test_predicted_variance_enters_both_output_scores():
    x, s = hand_samples()
    s.variance = torch.full_like(s.recon, 0.75)
    got = {k: float(v[0]) for k, v in batch_scores(x, s).items()}
    assert got["sigma2_output"] == pytest.approx(0.25 + 0.75)
    assert got["authors_std_output"] == pytest.approx(2 * math.sqrt(1.0 + EPS))


def test_oriented_scores_and_typicality_by_hand():
    stats = {
        "log_px": torch.tensor([-1.0, -5.0]),
        "authors_sse": torch.tensor([2.0, 10.0]),
        "sigma2_output": torch.tensor([0.1, 0.2]),
        "sigma2_latent": torch.tensor([0.3, 0.4]),
        "authors_std_output": torch.tensor([1.0, 2.0]),
        "authors_std_latent": torch.tensor([3.0, 4.0]),
    }
    reference = {
        "log_px": torch.tensor([-2.0, -4.0]),
        "authors_sse": torch.tensor([3.0, 5.0]),
    }  # means -3, 4
    got = oriented(stats, reference)
    assert got["ours"]["log_px"].tolist() == [1.0, 5.0]
    assert got["ours"]["typicality"].tolist() == [2.0, 2.0]
    assert got["authors"]["log_px"].tolist() == [2.0, 10.0]
    assert got["authors"]["typicality"].tolist() == [2.0, 6.0]
    assert got["authors"]["sigma2_output"].tolist() == [1.0, 2.0]


class CountingStub:
    """Reconstructions spread by +-(mean ink) across samples; records each n."""

    key = "counting_stub"

    def __init__(self):
        self.calls = []

    def sample(self, x, n, *, seed=0):
        self.calls.append(n)
        signs = torch.tensor([(-1.0) ** i for i in range(n)]).view(n, 1, 1, 1, 1)
        noise = signs * x.mean(
            dim=(1, 2, 3), keepdim=True
        )  # spread proportional to the image's mean ink
        return Samples(latents=noise.flatten(2)[..., :2], recon=x.unsqueeze(0) + noise)


def _ctx(method, label, data_in, data_out, tmp_path):
    return EvalContext(
        experiment="e",
        method_label=label,
        method=method,
        data=data_in,
        extra_data={"ood": data_out},
        point={},
        seed=0,
        device=torch.device("cpu"),
        artifact_dir=tmp_path,
    )


def test_validation_split_and_per_method_samples(tmp_path):
    data_in, data_out = (
        load_dataset("synthetic", classes=[0, 1]),
        load_dataset("synthetic", classes=[2, 3]),
    )
    task = tasks.get("ood")(
        {
            "n_samples": {"default": 3, "counting_stub": 7, "special": 5},
            "split": "validation",
            "typicality_train": 20,
        }
    )
    stub = CountingStub()
    rows = task.evaluate(_ctx(stub, "plain", data_in, data_out, tmp_path))
    assert set(stub.calls) == {7}  # by registry key
    table = pd.read_csv(tmp_path / "scores.csv")
    assert len(table) == len(data_in.val_x) + len(
        data_out.val_x
    )  # the validation split, not the test split
    got = {r["metric"]: r["value"] for r in rows}
    assert set(got) >= {"auroc/authors/sigma2_output", "auroc/sigma2_latent", "auroc/ink"}
    # the stub's noise scales with the image's mean intensity: its output variance ranks exactly like ink
    assert got["spearman_ink/sigma2_output"] == pytest.approx(1.0)
    assert got["auroc/sigma2_output"] == pytest.approx(got["auroc/ink"])
    stub.calls.clear()
    task.evaluate(_ctx(stub, "special", data_in, data_out, tmp_path))
    assert set(stub.calls) == {5}  # by label first


@pytest.mark.parametrize(
    "params,match",
    [
        ({"split": "train"}, "split"),
        ({"n_samples": {"lae": 5}}, "default"),
        ({"n_samples": {"default": 0}}, "n_samples"),
    ],
)
def test_bad_ood_params(params, match):
    with pytest.raises(ValueError, match=match):
        tasks.get("ood").validate_params(params)
