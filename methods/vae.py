"""`vae`: variational autoencoder with a Gaussian encoder and a Gaussian decoder (appendix A).

`VAE` (registry key `vae`) uses "two encoders and two decoders, twice the parameters": `encoder_mu`,
`encoder_logvar` (q(z|x) = N(mu, exp(logvar))) and `decoder_mu`, `decoder_logvar` (p(x|z), variance by
`ae_likelihood.variance_from_raw`), each a network from the architecture builder. Loss: per-pixel mean
Gaussian NLL + `kl_weight` * KL(q(z|x) || N(0, I)) (summed over latent dims, averaged over the batch).
`sample` draws z ~ q(z|x) n times: latents `[n, B, K]`, decoder means and variances `[n, B, C, H, W]`.
"""

from __future__ import annotations

import torch

from laebench.params import Param

from .ae import AE
from .ae_likelihood import gaussian_nll, variance_from_raw
from .architectures import build_decoder, build_encoder
from .base import Samples
from .registry import register


@register("vae")
class VAE(AE):
    """Gaussian VAE; the validation loss uses z = mu (deterministic, for stable early stopping)."""

    description = "Variational autoencoder (Gaussian encoder and decoder)"
    stochastic = True
    param_spec = {
        "kl_weight": Param(
            1.0e-3,
            "Weight of the KL term (appendix A: 1e-3; the authors' conv config 1e-5).",
            low=0,
        )
    }

    def build(self) -> None:
        m, shape = self.spec.model, self.image_shape
        self.nets = {
            "encoder_mu": build_encoder(m, shape),
            "encoder_logvar": build_encoder(m, shape),
            "decoder_mu": build_decoder(m, shape),
            "decoder_logvar": build_decoder(m, shape),
        }
        for net in self.nets.values():
            net.to(self.device)

    def _encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.nets["encoder_mu"](x), self.nets["encoder_logvar"](x)

    def _decode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.nets["decoder_mu"](z), variance_from_raw(self.nets["decoder_logvar"](z))

    def _loss(self, x: torch.Tensor, sample_z: bool) -> torch.Tensor:
        mu, logvar = self._encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if sample_z else mu
        mean, variance = self._decode(z)
        kl = 0.5 * (mu**2 + logvar.exp() - 1.0 - logvar).sum(1).mean()
        return gaussian_nll(x, mean, variance) + self.params["kl_weight"] * kl

    def training_loss(self, x: torch.Tensor) -> torch.Tensor:
        return self._loss(x, sample_z=True)

    def validation_loss(self, x: torch.Tensor) -> torch.Tensor:
        return self._loss(x, sample_z=False)

    def _sample_latents(self, x: torch.Tensor, n: int) -> Samples | None:
        self.set_mode(False)
        mu, logvar = self._encode(x)
        std = torch.exp(0.5 * logvar)
        return Samples(
            latents=torch.stack([mu + torch.randn_like(mu) * std for _ in range(n)]), recon=None
        )

    def _sample(self, x: torch.Tensor, n: int) -> Samples:
        self.set_mode(False)
        mu, logvar = self._encode(x)
        std = torch.exp(0.5 * logvar)
        latents, recon, variance = [], [], []
        for _ in range(n):
            z = mu + torch.randn_like(mu) * std
            mean, var = self._decode(z)
            latents.append(z), recon.append(mean), variance.append(var)
        return Samples(
            latents=torch.stack(latents), recon=torch.stack(recon), variance=torch.stack(variance)
        )
