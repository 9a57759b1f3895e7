"""How `lae_posthoc` chooses its prior precision and likelihood noise (`PriorSelection`, a mixin of `LAEPosthoc`):
the observation noise ("unit", or the MAP network's training MSE), and the `val_sampled` search from the evidence
maximum up to the loosest prior whose sampled networks' validation MSE stays within `val_tolerance` of the mean
network's (`methods.lae_posthoc`'s docstring)."""

from __future__ import annotations

import torch

from .training import batches

SEARCH_STEPS = 16  # half-decades above the evidence maximum: up to 10^7.5 times it


class PriorSelection:
    """Prior and noise selection of a post-hoc Laplace (uses the host's `params`, `network`, `_sample`,
    `validation_loss` and `_set_prior`'s state)."""

    def _noise_variance(self, sq_error: float | None, n_values: int) -> float:
        """The Gaussian likelihood's noise variance per pixel: 1 ("unit"), or the MAP network's mean squared
        error on the training set ("mle", the variance's maximum-likelihood estimate)."""
        if self.params["observation_noise"] == "unit":
            return 1.0
        return max(sq_error / n_values, 1e-12)

    @torch.no_grad()
    def _training_sq_error(self, train_x: torch.Tensor) -> float | None:
        """The MAP network's summed squared error on the training set, when the noise needs it (else None)."""
        if self.params["observation_noise"] == "unit":
            return None
        return sum(
            float(((self.network(xb) - xb) ** 2).sum())
            for xb in batches(train_x, 1024, shuffle=False)
        )

    # --- prior precision -------------------------------------------------------------------------------
    def _set_prior(self, prior: float) -> None:
        """Posterior precision H + prior for a new prior (H kept), or laplace-torch's prior for KFAC."""
        if self.precision_ is not None:
            self.precision_ = self.precision_ - self.prior_precision_ + prior
        else:
            self._la.prior_precision = prior
        self.prior_precision_ = float(prior)

    @torch.no_grad()
    def _sampled_val_mse(self, val_x: torch.Tensor) -> tuple[float, float]:
        """Validation MSE per image of the mean network and of `val_samples` networks sampled from q."""
        mean_sq = sum(
            float(((self.network(xb) - xb) ** 2).sum()) for xb in batches(val_x, 500, shuffle=False)
        )
        sampled = 0.0
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(self.spec.seed)
            for xb in batches(val_x, 500, shuffle=False):
                s = self._sample(xb, int(self.params["val_samples"]))
                sampled += float(((s.recon - xb) ** 2).sum()) / s.recon.shape[0]
        return mean_sq / len(val_x), sampled / len(val_x)

    def _search_prior(self, val_x: torch.Tensor) -> list[dict]:
        """Raise the prior from the evidence maximum by half-decades until sampled networks are usable."""
        if len(val_x) == 0:
            raise ValueError(
                "lae_posthoc prior_selection 'val_sampled' needs validation images; the dataset has "
                "none. Set prior_selection: marglik or a prior_precision."
            )
        start, trail = self.prior_precision_, []
        for k in range(SEARCH_STEPS):
            prior = start * 10 ** (k / 2)
            self._set_prior(prior)
            mean_mse, sampled_mse = self._sampled_val_mse(val_x)
            ok = sampled_mse <= (1 + self.params["val_tolerance"]) * mean_mse
            trail.append(
                {
                    "prior_precision": prior,
                    "val_mse_mean_net": mean_mse,
                    "val_mse_sampled": sampled_mse,
                    "accepted": ok,
                }
            )
            if ok:
                break
        self.prior_source_ = (
            "val_sampled" if trail[-1]["accepted"] else "val_sampled (no candidate passed: largest)"
        )
        return trail

    @torch.no_grad()
    def _mean_val_loss(self, data) -> float:
        """MSE of the mean network theta* on the validation split (the `ae`'s, reported for comparison)."""
        val_x = data.val_x.to(self.device)
        total = sum(
            float(self.validation_loss(xb)) * len(xb) for xb in batches(val_x, 1024, shuffle=False)
        )
        return total / max(len(val_x), 1)
