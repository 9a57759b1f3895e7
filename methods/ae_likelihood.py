"""`ae_likelihood`: an autoencoder whose decoder predicts a mean and a variance per pixel (Gaussian NLL loss).

`AELikelihood` (registry key `ae_likelihood`) builds the decoder with `2 * C` output channels: the
first C are the mean, the last C a raw value mapped to a variance by `variance_from_raw` (softplus plus
a floor of `VARIANCE_FLOOR`, shared with `vae`). Deterministic: `sample` returns n identical latents
`[n, B, K]` and means `[n, B, C, H, W]`, with the predicted variance `[n, B, C, H, W]`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .ae import AE
from .architectures import build_decoder, build_encoder
from .base import Samples
from .registry import register

VARIANCE_FLOOR = 1.0e-4


def variance_from_raw(raw: torch.Tensor) -> torch.Tensor:
    """Softplus with a floor: positive and smooth, and the floor keeps the NLL bounded on constant pixels."""
    return F.softplus(raw) + VARIANCE_FLOOR


def gaussian_nll(x: torch.Tensor, mean: torch.Tensor, variance: torch.Tensor) -> torch.Tensor:
    """Gaussian negative log-likelihood per pixel, averaged over batch and pixels (with the log 2pi term)."""
    return 0.5 * (torch.log(variance) + (x - mean) ** 2 / variance + math.log(2 * math.pi)).mean()


def split_mean_variance(out: torch.Tensor, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Decoder output `[B, 2C, H, W]` -> mean `[B, C, H, W]`, variance `[B, C, H, W]`."""
    return out[:, :channels], variance_from_raw(out[:, channels:])


@register("ae_likelihood")
class AELikelihood(AE):
    """Autoencoder with a learned per-pixel Gaussian likelihood (heteroscedastic decoder)."""

    description = "Autoencoder with a decoder predicting mean and variance (Gaussian NLL)"
    stochastic = False
    default_params: dict = {}

    def build(self) -> None:
        c = self.image_shape[0]
        self.encoder = build_encoder(self.spec.model, self.image_shape).to(self.device)
        self.decoder = build_decoder(self.spec.model, self.image_shape, out_channels=2 * c).to(
            self.device
        )
        self.nets = {"encoder": self.encoder, "decoder": self.decoder}

    def _forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z = self.encoder(x)
        mean, variance = split_mean_variance(self.decoder(z), self.image_shape[0])
        return z, mean, variance

    def training_loss(self, x: torch.Tensor) -> torch.Tensor:
        _, mean, variance = self._forward(x)
        return gaussian_nll(x, mean, variance)

    def _sample(self, x: torch.Tensor, n: int) -> Samples:
        self.set_mode(False)
        z, mean, variance = self._forward(x)
        rep = lambda t: t.unsqueeze(0).expand(n, *t.shape).clone()
        return Samples(latents=rep(z), recon=rep(mean), variance=rep(variance))
