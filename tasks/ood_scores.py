"""Per-input OOD scores from n samples of `Method.sample`, in two conventions (used by `tasks.ood`).

Ours (metric names `<metric>/<score>`):
- `log_px`: log (1/n) sum_s N(x | recon_s, var_s) summed over pixels (`tasks.reconstruction.gaussian_log_px`;
  var_s = the predicted variance where the method has one, else 1); the OOD score is its negative.
- `typicality`: |log p(x) - mean log p over the typicality reference set| (Nalisnick et al., 2019).
- `sigma2_output`: mean over pixels of the population variance of recon across samples (+ the mean predicted
  variance where the method has one).
- `sigma2_latent`: mean over latent dimensions of the population variance of the latents across samples.
The authors' (FrederikWarburg/LaplaceAE `trainer_lae_elbo.py::inference_on_dataset`,
`visualizer.py::compute_and_plot_roc_curves`, `utils.py::compute_typicality_score`; names `<metric>/authors/<score>`):
- `log_px`: the mean over samples of the squared error summed over pixels, sum_p (x_p - recon_s,p)^2 (no 0.5,
  no constant, no predicted variance; higher = more OOD).
- `typicality`: |that - its mean over the typicality reference set| (they use the whole training set).
- `sigma2_output`: the SUM over pixels of the standard deviation sqrt(var + 1e-5) (population variance across
  samples, + the mean predicted variance where the method has one).
- `sigma2_latent`: the SUM over latent dimensions of sqrt(var + 1e-5) with the unbiased variance (torch.var).
"""

from __future__ import annotations

import torch

from .reconstruction import gaussian_log_px

EPS = 1e-5  # the authors' floor inside the square root


@torch.no_grad()
def batch_scores(x: torch.Tensor, s) -> dict[str, torch.Tensor]:
    """Raw per-input statistics of one batch x `[B, ...]` from its `Samples` s (both conventions)."""
    n = s.recon.shape[0]
    var_out = s.recon.var(0, unbiased=False)
    if s.variance is not None:
        var_out = var_out + s.variance.mean(0)
    lat_pop = s.latents.var(0, unbiased=False)
    lat_unbiased = s.latents.var(0, unbiased=True) if n > 1 else torch.zeros_like(lat_pop)
    return {
        "log_px": gaussian_log_px(x, s.recon, s.variance),
        "sigma2_output": var_out.flatten(1).mean(1),
        "sigma2_latent": lat_pop.mean(1),
        "authors_sse": ((s.recon - x.unsqueeze(0)) ** 2).flatten(2).sum(-1).mean(0),
        "authors_std_output": (var_out + EPS).sqrt().flatten(1).sum(1),
        "authors_std_latent": (lat_unbiased + EPS).sqrt().sum(1),
    }


def oriented(stats: dict, reference: dict) -> dict[str, dict]:
    """Scores oriented so that higher = more OOD, by convention: {"ours": {...}, "authors": {...}}."""
    ours_ref = float(reference["log_px"].mean())
    authors_ref = float(reference["authors_sse"].mean())
    return {
        "ours": {
            "log_px": -stats["log_px"],
            "typicality": (stats["log_px"] - ours_ref).abs(),
            "sigma2_output": stats["sigma2_output"],
            "sigma2_latent": stats["sigma2_latent"],
        },
        "authors": {
            "log_px": stats["authors_sse"],
            "typicality": (stats["authors_sse"] - authors_ref).abs(),
            "sigma2_output": stats["authors_std_output"],
            "sigma2_latent": stats["authors_std_latent"],
        },
    }
