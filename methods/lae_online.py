"""`lae_online`: the Laplacian autoencoder trained online (paper sec. 2, appendix D.5, Eq. 64-65).

`LAEOnline` (registry key `lae_online`) keeps a diagonal Gaussian q(theta) = N(mu, H^-1) over the
encoder/decoder weights. Each step samples theta = mu + eps / sqrt(H) (H held constant), takes the mean-MSE
reconstruction loss of the network with theta (Adam on mu, shared loop), then in `after_step` updates
H <- (1 - alpha) H + (N / B) diag_ggn(theta, batch) with the same theta (Eq. 65). The GGN reuses the
layer outputs of the loss's own forward pass (`methods.curvature.record_activations`: same weights, same
batch, so the same numbers as a separate forward), so a step costs one forward, one backward and one
Hessian backward. `sample` draws n weight vectors from q: latents `[n, B, K]`, recon `[n, B, C, H, W]`.

Default Hessian: "mix" with threshold 1024 (`methods.curvature.DEFAULT_THRESHOLD`, see its docstring): on
the paper's conv AE exact on the 1024-2-1024 bottleneck block, approximate in the conv / 2048-wide layers, at
about the cost of "approx", so it runs on a CPU with the default batch of 64; on the MLP AE (all features
<= 1024) it is the exact diagonal, as the paper used for linear layers (appendix A).
"""
from __future__ import annotations

import copy
from numbers import Real

import torch

from .ae import AE
from .base import Samples
from .curvature import DEFAULT_THRESHOLD, record_activations
from .laplace_common import SampledAutoencoder, flatten, sample_diagonal_gaussian, sample_weights, unflatten
from .registry import register

HESSIANS = ("exact", "approx", "mix")


@register("lae_online")
class LAEOnline(AE):
    """Online Laplace autoencoder.

    Conventions (as in the authors' code):
    - H starts at N * prior_precision (N = training-set size): the prior seen once per data point, so the
      first sampled networks stay close to mu; the paper's H0 = I is this with prior 1/N.
    - The GGN is that of the unit-variance Gaussian log-likelihood, i.e. of 0.5 * ||f(x) - x||^2 summed over
      the batch (`diag_ggn`'s convention), scaled by N / B to a full-data estimate. The loss for mu is the
      mean MSE over pixels and batch (appendix A), a constant rescaling that Adam is insensitive to.
    - The validation loss (early stopping) is the MSE of the mean network mu: deterministic, so the
      stopping epoch does not depend on sampling noise.
    - A non-finite or non-positive precision raises FloatingPointError at the step where it happens.
    """

    description = "Laplacian autoencoder, online training (the paper's method)"
    stochastic = True
    default_params = {"hessian": "mix", "threshold": DEFAULT_THRESHOLD, "alpha": 1.0e-4, "prior_precision": 1.0,
                      "train_samples": 1}

    @classmethod
    def validate_params(cls, params: dict) -> dict:
        p = super().validate_params(params)
        number = lambda v: isinstance(v, Real) and not isinstance(v, bool)
        if p["hessian"] not in HESSIANS:
            raise ValueError(f"lae_online.hessian must be one of {', '.join(HESSIANS)}. Got {p['hessian']!r}.")
        if not number(p["threshold"]) or p["threshold"] < 0:
            raise ValueError(f"lae_online.threshold must be a number >= 0. Got {p['threshold']!r}.")
        if not number(p["alpha"]) or not 0 <= p["alpha"] < 1:
            raise ValueError(f"lae_online.alpha (Hessian memory factor) must be in [0, 1). Got {p['alpha']!r}.")
        if not number(p["prior_precision"]) or not p["prior_precision"] > 0:
            raise ValueError(f"lae_online.prior_precision must be a positive number. Got {p['prior_precision']!r}.")
        if not isinstance(p["train_samples"], int) or isinstance(p["train_samples"], bool) or p["train_samples"] < 1:
            raise ValueError(f"lae_online.train_samples must be an integer >= 1. Got {p['train_samples']!r}.")
        return p

    def build(self) -> None:
        super().build()
        self._mean = [*self.encoder.parameters(), *self.decoder.parameters()]
        self._sampler = SampledAutoencoder(self.encoder, self.decoder)
        h0 = getattr(self, "n_train_", 1) * float(self.params["prior_precision"])
        self.precision_ = [torch.full_like(p, h0, requires_grad=False) for p in self._mean]
        self._eps = [torch.empty_like(h) for h in self.precision_]  # reused every step: no allocation
        self._std = [torch.empty_like(h) for h in self.precision_]
        self._update_std()
        self._ggn_net = None  # a copy of the network that holds the sampled weights for diag_ggn
        self._thetas: list[list[torch.Tensor]] = []
        self._records = []  # the layer outputs of each sampled network's forward, for diag_ggn
        self.step_ = 0

    def _fit(self, data, dependencies, reporter, checkpoint_path) -> None:
        self.n_train_ = len(data.train_x)
        super()._fit(data, dependencies, reporter, checkpoint_path)

    # --- one training step --------------------------------------------------------------------------------
    def training_loss(self, x: torch.Tensor) -> torch.Tensor:
        losses, self._thetas, self._records = [], [], []
        for _ in range(self.params["train_samples"]):
            for eps in self._eps:
                eps.normal_()
            # theta = mu + eps / sqrt(H): differentiable in mu (gradient passes through), H is a constant
            theta = [torch.addcmul(m, e, s) for m, e, s in zip(self._mean, self._eps, self._std)]
            with record_activations(self.network) as record:  # hooks on our modules, which run with theta
                _, recon = self._sampler.forward(theta, x)
            losses.append(((recon - x) ** 2).mean())
            self._thetas.append([t.detach() for t in theta])
            self._records.append(record)
        return losses[0] if len(losses) == 1 else torch.stack(losses).mean()

    def validation_loss(self, x: torch.Tensor) -> torch.Tensor:
        return ((self.decoder(self.encoder(x)) - x) ** 2).mean()

    def after_step(self, xb: torch.Tensor) -> None:
        from .curvature import diag_ggn  # looked up at call time (tests replace methods.curvature.diag_ggn)

        if self._ggn_net is None:
            self._ggn_net = copy.deepcopy(self.network).requires_grad_(False)
            self._ggn_params = list(self._ggn_net.parameters())
        ggn = None
        for theta, record in zip(self._thetas, self._records):  # the same weights and forward as the loss
            for p, t in zip(self._ggn_params, theta):
                p.data = t  # swap storage instead of copying: the GGN only reads the weights
            g = diag_ggn(self._ggn_net, xb, self.params["hessian"], threshold=self.params["threshold"],
                         activations=record)
            if ggn is None:
                ggn = g
            else:
                torch._foreach_add_(ggn, g)
        self._thetas, self._records = [], []  # release the weights and activations before the update
        # H <- (1 - alpha) H + c ggn, in place (c = N / (B * samples)).
        torch._foreach_mul_(self.precision_, 1.0 - self.params["alpha"])
        torch._foreach_add_(self.precision_, ggn, alpha=self.n_train_ / (len(xb) * self.params["train_samples"]))
        del ggn
        self.step_ += 1
        self._check_precision(f"after training step {self.step_}")
        self._update_std()

    def _update_std(self) -> None:
        for h, s in zip(self.precision_, self._std):
            torch.rsqrt(h, out=s)

    # --- monitoring ----------------------------------------------------------------------------------------
    def _check_precision(self, where: str, with_mean: bool = False) -> dict:
        """min / max (and mean) of H; raises FloatingPointError if H has a NaN, an inf or an entry <= 0."""
        lo_hi = torch.stack([torch.stack(torch.aminmax(h)) for h in self.precision_])
        lo, hi = (float(v) for v in torch.stack([lo_hi[:, 0].min(), lo_hi[:, 1].max()]))
        if not (lo > 0 and hi < float("inf")):  # also catches NaN
            raise FloatingPointError(
                f"lae_online ({self.spec.key}): the Hessian precision became non-finite or non-positive "
                f"{where} (min {lo:.4g}, max {hi:.4g}). Lower train.lr, raise prior_precision or try "
                f"hessian 'exact' (now {self.params['hessian']!r}).")
        stats = {"precision_min": lo, "precision_max": hi}
        if with_mean:
            total = torch.stack([h.sum(dtype=torch.float64) for h in self.precision_]).sum()
            stats["precision_mean"] = float(total) / sum(h.numel() for h in self.precision_)
        return stats

    def epoch_metrics(self) -> dict:
        return self._check_precision("at the end of an epoch", with_mean=True)

    # --- checkpoint and sampling ---------------------------------------------------------------------------
    def extra_state(self) -> dict:
        return {"precision": flatten(self.precision_).clone(), "prior_precision": float(self.params["prior_precision"]),
                "n_train": getattr(self, "n_train_", None), "step": self.step_}

    def load_extra_state(self, state: dict) -> None:
        self.precision_ = [h.clone() for h in unflatten(state["precision"].to(self.device), self._mean)]
        self._update_std()
        self.step_ = state.get("step", 0)
        if state.get("n_train") is not None:
            self.n_train_ = state["n_train"]

    def _sample(self, x: torch.Tensor, n: int) -> Samples:
        self._set_mode(False)
        mean = [p.detach() for p in self._mean]
        return sample_weights(self._sampler, lambda: sample_diagonal_gaussian(mean, self._std), x, n)
