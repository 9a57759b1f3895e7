"""`hessian_quality`: how good are the networks sampled from a Laplace posterior (Table 2)?

Per test image and the method's n samples: `neg_log_px` = the squared error of a sampled network averaged
over samples, E_s ||x - f_s(x)||^2 (the authors' "-log p(x)": unit variance, no 0.5, no constant), and `mse`
= the squared error of the mean reconstruction ||x - mean_s f_s(x)||^2; both summed over pixels and averaged
over test images, so the leaderboard's mean ± std is over seeds. `gaussian_neg_log_px` is the proper
-log (1/n) sum_s N(x | f_s(x), I). Table 2 compares lae_posthoc (kfac / exact / approx Hessian) with
lae_online (exact / approx) on the `mlp` AE on MNIST; any method works.
"""

from __future__ import annotations

import torch

from .base import EvalContext, Task, sample_all, sampling_params
from .reconstruction import gaussian_log_px
from .registry import register


@register("hessian_quality")
class HessianQuality(Task):
    description = "-log p(x) and MSE of sampled networks (Table 2)"
    param_spec = sampling_params(100, 250)
    directions = {"neg_log_px": "min", "mse": "min", "gaussian_neg_log_px": "min"}
    headline = ("neg_log_px",)

    def evaluate(self, ctx: EvalContext) -> list[dict]:
        p = self.params
        x_all = ctx.data.test_x[: p["max_test"]] if p["max_test"] else ctx.data.test_x
        sampled, mean, gauss = [], [], []
        batches = sample_all(
            ctx.method, x_all, p["n_samples"], seed=ctx.seed, batch_size=p["batch_size"]
        )
        for start, s in zip(
            range(0, len(x_all), p["batch_size"]), batches
        ):  # the same n networks for every batch
            x = x_all[start : start + p["batch_size"]].to(ctx.device)
            sq = ((s.recon - x.unsqueeze(0)) ** 2).flatten(2).sum(-1)  # [n, B]
            sampled.append(sq.mean(0).cpu())
            mean.append(((s.recon.mean(0) - x) ** 2).flatten(1).sum(-1).cpu())
            gauss.append(-gaussian_log_px(x, s.recon, None).cpu())
        return [
            {"metric": "neg_log_px", "value": float(torch.cat(sampled).mean())},
            {"metric": "mse", "value": float(torch.cat(mean).mean())},
            {"metric": "gaussian_neg_log_px", "value": float(torch.cat(gauss).mean())},
        ]
