"""`imputation`: missing-data imputation by iterated encode-decode (section 5, Fig. 11, appendix A.3).

`protocol: ours` (default, the headline), on the first `max_test` test images: missing pixels (`mask`:
`upper_half`, rows above H//2; `full`: all, i.e. generation) start as uniform noise; observed pixels are clamped
after every pass, so an imputation never changes them. Stage 1: `sample(x, n_first)` starts `n_first` chains,
each run on with `sample(y, 1)` for `n_iterations` passes in all (a method whose samples carry
`Samples.member`, an ensemble, is called with `member=` so chain i stays with the member that started it and
the chains use every member); stage 2: `n_iterations` passes of y <- mean of `sample(y, n_refine)` (all
members, for an ensemble). Result: `n_first` imputations per input.
Metrics (per image, summed over the missing pixels against the TRUE image, averaged over images): `mse` =
squared error of the mean imputation; `log_px` = minus the squared error averaged over imputations (the
authors' "log p(x)" form: unit variance, no 0.5, no constant); `gaussian_log_px` = the proper
log (1/n_first) sum_i N(x_missing | imputation_i, I), constant included; `accuracy`, `ece`, `mce`, `rmsce` of a
small CNN (trained once per dataset via `ctx.aux_model`, `classifier_epochs` but at least 300 steps) on the
softmax averaged over imputations; `classifier/*`: the same CNN on the zero-filled masked input.
`protocol: authors`: the authors' procedure and scores, which the paper's table reports (noise-filled target,
all pixels, validation split, `authors_samples` samples, at most `max_val` images); metrics `authors/*`, see
`tasks/imputation_authors.py`. Not comparable with ours: their MSE mostly measures distance to the noise.
`full` writes `generation.png` only. Artifacts: `imputations.png`, `reliability.png`, `per_input.csv`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from laebench.params import Param

from .base import EvalContext, Task
from .imputation_authors import evaluate_authors
from .imputation_common import (
    GRID_ROWS,
    MASKS,
    classifier_scores,
    generation_grid,
    imputation_grid,
    mix_seed,
    observed_mask,
)
from .registry import register

PROTOCOLS = ("ours", "authors")


@torch.no_grad()
def impute(
    method,
    x: torch.Tensor,
    observed: torch.Tensor,
    *,
    n_first: int,
    n_refine: int,
    n_iterations: int,
    seed: int,
    noise: torch.Tensor,
) -> torch.Tensor:
    """Imputations `[n_first, B, C, H, W]` of x `[B, C, H, W]`; `noise` (same shape as x) fills missing pixels."""
    observed = observed.to(x.device)

    def clamp(y):
        return torch.where(observed, x, y)

    first = method.sample(clamp(noise.to(x.device)), n_first, seed=mix_seed(seed, 1))
    chains = clamp(first.recon)
    out = []
    for i in range(n_first):
        y = chains[i]
        # an ensemble's chain stays with the member that started it (without the hint: always member 0)
        member = {} if first.member is None else {"member": int(first.member[i])}
        for t in range(1, n_iterations):
            y = clamp(method.sample(y, 1, seed=mix_seed(seed, 1, i, t), **member).recon[0])
        for t in range(n_iterations):
            y = clamp(method.sample(y, n_refine, seed=mix_seed(seed, 2, i, t)).recon.mean(0))
        out.append(y)
    return torch.stack(out)


@register("imputation")
class Imputation(Task):
    description = (
        "Missing-data imputation (upper half of the image): MSE, log p(x), classifier calibration"
    )
    param_spec = {
        "mask": Param("upper_half", "Which pixels are missing.", kind="choice", choices=MASKS),
        "protocol": Param(
            "ours",
            "ours (missing pixels vs the true image) or authors (their code's procedure and "
            "target: the noise-filled input, summed over pixels).",
            kind="choice",
            choices=PROTOCOLS,
        ),
        "n_first": Param(5, "ours: imputation chains (samples) per image.", kind="int", low=1),
        "n_refine": Param(5, "ours: samples per refinement stage.", kind="int", low=1),
        "n_iterations": Param(10, "ours: iterations per stage.", kind="int", low=1),
        "max_test": Param(
            1000,
            "ours: the first this many test images; null: all.",
            kind="int",
            low=1,
            nullable=True,
        ),
        "batch_size": Param(500, "Images per batch.", kind="int", low=1),
        "classifier_epochs": Param(
            5, "Epochs of the classifier scoring the imputations.", kind="int", low=1
        ),
        "authors_samples": Param(
            10, "authors: samples per stage (their code: 10).", kind="int", low=1
        ),
        "max_val": Param(
            None,
            "authors: the first this many validation images; null: all.",
            kind="int",
            low=1,
            nullable=True,
        ),
    }
    directions = {
        "mse": "min",
        "log_px": "max",
        "gaussian_log_px": "max",
        "authors/mse*": "min",
        "authors/log_px*": "max",
        "*accuracy": "max",
        "*ce": "min",
    }
    headline = ("ece", "authors/ece")

    @torch.no_grad()
    def evaluate(self, ctx: EvalContext) -> list[dict]:
        p = self.params
        if p["protocol"] == "authors":
            return evaluate_authors(p, ctx)
        observed = observed_mask(ctx.data.image_shape, p["mask"])
        x_all, y_all = ctx.data.test_x, ctx.data.test_y
        n_test = GRID_ROWS if p["mask"] == "full" else (p["max_test"] or len(x_all))
        x_all, y_all = x_all[:n_test], y_all[:n_test]
        imputations = impute_all(ctx, p, x_all, observed)  # [n_first, N, C, H, W]
        ctx.artifact_dir.mkdir(parents=True, exist_ok=True)
        if p["mask"] == "full":
            generation_grid(
                imputations,
                ctx.artifact_dir / "generation.png",
                f"{ctx.method_label}: generation from noise",
            )
            return []
        rows, table = imputation_scores(imputations, x_all, y_all, observed)
        imputation_grid(
            x_all,
            x_all * observed,
            "observed",
            imputations,
            ctx.artifact_dir / "imputations.png",
            f"{ctx.method_label}: upper half missing",
        )
        # single-label data: the classifier's accuracy and calibration
        if ctx.data.train_y.ndim == 1:
            rows += classifier_scores(ctx, p, imputations, x_all * observed, y_all, table, "")
        table.to_csv(ctx.artifact_dir / "per_input.csv", index_label="index")
        return rows


@torch.no_grad()
def impute_all(
    ctx: EvalContext, p: dict, x_all: torch.Tensor, observed: torch.Tensor
) -> torch.Tensor:
    """Imputations `[n_first, N, C, H, W]` of every image of x_all `[N, C, H, W]`, batch by batch, the missing
    pixels of each batch filled with uniform noise drawn from one generator seeded by the trial's seed."""
    generator = torch.Generator().manual_seed(ctx.seed)
    imputations = []
    for start in range(0, len(x_all), p["batch_size"]):
        x = x_all[start : start + p["batch_size"]].to(ctx.device)
        noise = torch.rand(x.shape, generator=generator)
        imputations.append(
            impute(
                ctx.method,
                x,
                observed,
                n_first=p["n_first"],
                n_refine=p["n_refine"],
                n_iterations=p["n_iterations"],
                seed=ctx.seed,
                noise=noise,
            ).cpu()
        )
    return torch.cat(imputations, 1)


def imputation_scores(
    imputations: torch.Tensor, x_all: torch.Tensor, y_all: torch.Tensor, observed: torch.Tensor
) -> tuple[list[dict], pd.DataFrame]:
    """The `mse`, `log_px` and `gaussian_log_px` rows (averaged over images) of imputations
    `[n_first, N, C, H, W]` against the true images x_all, over the missing pixels, and the per-image table."""
    missing = ~observed
    sq = ((imputations - x_all) ** 2 * missing).flatten(2).sum(-1)  # [n_first, N]
    n_missing = int(missing.sum())
    log_lik = -0.5 * sq - 0.5 * n_missing * math.log(2 * math.pi)
    gaussian_log_px = torch.logsumexp(log_lik, 0) - math.log(imputations.shape[0])
    mean_sq = ((imputations.mean(0) - x_all) ** 2 * missing).flatten(1).sum(-1)  # [N]
    paper_log_px = -sq.mean(0)
    rows = [
        {"metric": "mse", "value": float(mean_sq.mean())},
        {"metric": "log_px", "value": float(paper_log_px.mean())},
        {"metric": "gaussian_log_px", "value": float(gaussian_log_px.mean())},
    ]
    table = pd.DataFrame(
        {
            "label": y_all.numpy() if y_all.ndim == 1 else np.nan,
            "mse": mean_sq.numpy(),
            "log_px": paper_log_px.numpy(),
            "gaussian_log_px": gaussian_log_px.numpy(),
        }
    )
    return rows, table
