"""`reconstruction`: test-set reconstruction error and Gaussian log-likelihood.

Per test image, with samples s = 1..n of `Method.sample`: `mse` is the squared error of the mean
reconstruction summed over pixels (the paper's per-image convention); `log_px` is the log of the
sample-averaged Gaussian likelihood log (1/n) sum_s N(x | recon_s, var_s), summed over pixels, with
var_s the predicted variance where the method has one and 1 (the MSE model) otherwise.
"""

from __future__ import annotations

import math

import torch

from .base import EvalContext, Task, sample_all, sampling_params
from .registry import register


def gaussian_log_px(
    x: torch.Tensor, recon: torch.Tensor, variance: torch.Tensor | None
) -> torch.Tensor:
    """log (1/n) sum_s N(x | recon_s, variance_s) per input, summed over pixels. x [B,...], recon [n,B,...]."""
    var = torch.ones_like(recon) if variance is None else variance.clamp_min(1e-6)
    log_n = -0.5 * ((x.unsqueeze(0) - recon) ** 2 / var + var.log() + math.log(2 * math.pi))
    per_sample = log_n.flatten(2).sum(-1)  # [n, B]
    return torch.logsumexp(per_sample, 0) - math.log(per_sample.shape[0])


@register("reconstruction")
class Reconstruction(Task):
    description = "Test MSE (per image, summed over pixels) and Gaussian log-likelihood"
    param_spec = sampling_params(10, 500)
    directions = {"mse": "min", "log_px": "max"}
    headline = ("mse",)

    def evaluate(self, ctx: EvalContext) -> list[dict]:
        x_all = ctx.data.test_x
        if self.params["max_test"]:
            x_all = x_all[: self.params["max_test"]]
        mse, log_px = [], []
        size = self.params["batch_size"]
        for start, s in zip(
            range(0, len(x_all), size),
            sample_all(ctx.method, x_all, self.params["n_samples"], seed=ctx.seed, batch_size=size),
        ):
            x = x_all[start : start + size].to(ctx.device)
            mse.append(((s.recon.mean(0) - x) ** 2).flatten(1).sum(1).cpu())
            log_px.append(gaussian_log_px(x, s.recon, s.variance).cpu())
        return [
            {"metric": "mse", "value": float(torch.cat(mse).mean())},
            {"metric": "log_px", "value": float(torch.cat(log_px).mean())},
        ]
