"""The authors' imputation protocol (`imputation` with `protocol: authors`): the procedure and scores behind the
paper's imputation table (Fig. 11 c), reproduced from FrederikWarburg/LaplaceAE, `src/data_imputation/`
(`helpers.py::BaseImputation.compute` and the `FromHalf` classes of `lae.py`, `ensemble_ae.py`, `mcae.py`,
`vae.py`, `lae_posthoc.py`; `classifier.py` for the classifier row). Step by step:

1. Mask in place: the missing rows (upper half, rows < H//2) are overwritten with Gaussian noise min-max
   scaled to [0, 1] over the whole image (`randn_like(x)`, `(n - n.min()) / (n.max() - n.min())`: mean ~0.50,
   sd ~0.16 on 28x28). This noise-filled image is the network input AND the target of every score.
2. One pass: `authors_samples` reconstructions of it (10, as their `lae`, `mcae`, `vae`, `lae_posthoc`;
   their ensemble uses its 5 members once each: 10 samples of a 5-member ensemble are each member twice,
   which gives the same numbers).
3. The observed half is re-inserted into every sample; then sample i becomes the mean of `authors_samples`
   reconstructions of it (one more pass; the observed half is NOT re-inserted after it).
4. Scores per image, averaged over images: `authors/mse` = sum over all C*H*W pixels of
   (mean of the imputations - noise-filled input)^2 (`mse_loss(x_rec.mean(0), x, reduction="sum")`);
   `authors/log_px` = minus the mean over imputations of that sum (their "likelihood", negated as in the
   paper's table). Both score the distance to the NOISE in the missing half (plus the reconstruction error
   of the observed half), so they reward blur: a crisp 0/1 upper half scores ~108 against the noise, flat
   0.5 grey ~10. Our `mse` (missing pixels against the true image) is the measure of imputation quality;
   it is reported on these same imputations as `authors/mse_vs_true` and `authors/log_px_vs_true`.
5. `authors/accuracy`, `authors/ece`, `authors/mce`, `authors/rmsce`: the classifier's softmax averaged over
   the imputations; `authors/classifier/*`: the classifier on the noise-filled input (their "Classifier" row).

Evaluation split: the validation split, `ctx.data.val_x` (at most `max_val` images). The authors' is a
5,000-image `random_split` (seed 42) of the 60,000 MNIST training images; ours is `min(5000, N_train / 5)`
training images drawn with the harness's fixed seed: the same size on MNIST, other images.
Every `Method.sample` call uses one seed per trial, so a method that samples weights (the LAEs) uses one set
of networks for every image and both passes, as the authors draw theirs once; a method that samples
activations (VAE, MC dropout) then draws the same noise sequence in every call, where theirs draws afresh.
Kept from our protocol, on purpose: the classifier (`imputation_common.classifier_for`, a small CNN in eval mode)
instead of theirs (a LeNet whose dropout stays on at test time: `get_mnist_classifier` never calls
`.eval()`), whose weights we do not have; batches of `batch_size` images where they use batch 1 (the same
numbers for methods without batch-dependent layers).
"""

from __future__ import annotations

import pandas as pd
import torch

from .base import EvalContext
from .imputation_common import (
    GRID_ROWS,
    classifier_scores,
    generation_grid,
    imputation_grid,
    mix_seed,
    observed_mask,
)


def authors_noise(shape: torch.Size | tuple, generator: torch.Generator) -> torch.Tensor:
    """Standard normal noise of `shape` `[B, C, H, W]`, min-max scaled to [0, 1] per image (over C, H, W)."""
    flat = torch.randn(shape, generator=generator).flatten(1)
    lo, hi = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    return ((flat - lo) / (hi - lo)).view(shape)


@torch.no_grad()
def authors_impute(
    method, x_filled: torch.Tensor, observed: torch.Tensor, n: int, seed: int
) -> torch.Tensor:
    """Imputations `[n, B, C, H, W]` of the noise-filled batch `x_filled`: one pass, re-insert, one more pass."""
    observed = observed.to(x_filled.device)
    first = torch.where(observed, x_filled, method.sample(x_filled, n, seed=seed).recon)
    return torch.stack([method.sample(first[i], n, seed=seed).recon.mean(0) for i in range(n)])


@torch.no_grad()
def evaluate_authors(p: dict, ctx: EvalContext) -> list[dict]:
    """The `imputation` task's trial under `protocol: authors` (`p`: the task's parameters)."""
    observed = observed_mask(ctx.data.image_shape, p["mask"])
    x_all, y_all = ctx.data.val_x, ctx.data.val_y
    n_images = GRID_ROWS if p["mask"] == "full" else (p["max_val"] or len(x_all))
    x_all, y_all = x_all[:n_images], y_all[:n_images]
    imputations, filled = authors_impute_all(ctx, p, x_all, observed)
    ctx.artifact_dir.mkdir(parents=True, exist_ok=True)
    if p["mask"] == "full":
        generation_grid(
            imputations,
            ctx.artifact_dir / "generation.png",
            f"{ctx.method_label}: generation from noise (authors)",
        )
        return []
    rows, table = authors_scores(imputations, filled, x_all, y_all, observed)
    imputation_grid(
        x_all,
        filled,
        "noise-filled",
        imputations,
        ctx.artifact_dir / "imputations.png",
        f"{ctx.method_label}: upper half missing (authors' protocol)",
    )
    if ctx.data.train_y.ndim == 1:  # single-label data: the classifier's accuracy and calibration
        rows += classifier_scores(ctx, p, imputations, filled, y_all, table, "authors/")
    table.to_csv(ctx.artifact_dir / "per_input.csv", index_label="index")
    return rows


@torch.no_grad()
def authors_impute_all(
    ctx: EvalContext, p: dict, x_all: torch.Tensor, observed: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Imputations `[n, N, C, H, W]` (n = `authors_samples`) of every image of x_all `[N, C, H, W]` and the
    noise-filled inputs `[N, C, H, W]` they start from, batch by batch, the noise drawn from one generator seeded
    by the trial's seed."""
    generator = torch.Generator().manual_seed(ctx.seed)
    n, seed = p["authors_samples"], mix_seed(ctx.seed, 3)
    filled, imputations = [], []
    for start in range(0, len(x_all), p["batch_size"]):
        x = x_all[start : start + p["batch_size"]]
        x_filled = torch.where(observed, x, authors_noise(x.shape, generator))
        imputations.append(
            authors_impute(ctx.method, x_filled.to(ctx.device), observed, n, seed).cpu()
        )
        filled.append(x_filled)
    return torch.cat(imputations, 1), torch.cat(filled)


def authors_scores(
    imputations: torch.Tensor,
    filled: torch.Tensor,
    x_all: torch.Tensor,
    y_all: torch.Tensor,
    observed: torch.Tensor,
) -> tuple[list[dict], pd.DataFrame]:
    """The `authors/*` rows (averaged over images) and the per-image table: the authors' scores against the
    noise-filled input over all pixels, and ours against the true image over the missing pixels."""
    missing = ~observed
    # [N], all pixels, target = noise-filled
    mse = ((imputations.mean(0) - filled) ** 2).flatten(1).sum(-1)
    log_px = -((imputations - filled) ** 2).flatten(2).sum(-1).mean(0)
    # ours, on these imputations
    mse_true = ((imputations.mean(0) - x_all) ** 2 * missing).flatten(1).sum(-1)
    log_px_true = -((imputations - x_all) ** 2 * missing).flatten(2).sum(-1).mean(0)
    table = pd.DataFrame(
        {
            "label": y_all.numpy() if y_all.ndim == 1 else float("nan"),
            "mse": mse.numpy(),
            "log_px": log_px.numpy(),
            "mse_vs_true": mse_true.numpy(),
            "log_px_vs_true": log_px_true.numpy(),
        }
    )
    rows = [
        {"metric": f"authors/{k}", "value": float(table[k].mean())}
        for k in ("mse", "log_px", "mse_vs_true", "log_px_vs_true")
    ]
    return rows, table
