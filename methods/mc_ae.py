"""`mc_ae`: Monte-Carlo dropout autoencoder (appendix A: dropout p = 0.2 between all trainable layers).

`MCAE` (registry key `mc_ae`) is the `ae` with `nn.Dropout(p)` after every activation; dropout stays
on at test time, so `sample` runs n stochastic forward passes: latents `[n, B, K]`, recon `[n, B, C, H, W]`.
Validation (early stopping) uses the network with dropout off.
"""

from __future__ import annotations

import torch
from torch import nn

from laebench.params import Param

from .ae import AE
from .base import Samples
from .registry import register


@register("mc_ae")
class MCAE(AE):
    """AE with dropout kept on at test time."""

    description = "Monte-Carlo dropout autoencoder"
    stochastic = True
    param_spec = {
        "p": Param(
            0.2,
            "Dropout probability, at training and test time (appendix A: 0.2).",
            low=0,
            high=1,
            low_open=True,
            high_open=True,
        )
    }

    @property
    def dropout(self) -> float:  # read by AE.build
        return float(self.params["p"])

    def _sample(self, x: torch.Tensor, n: int) -> Samples:
        self.set_mode(False)
        for net in self.nets.values():
            for module in net.modules():
                if isinstance(module, nn.Dropout):
                    module.train()
        try:
            latents, recon = [], []
            for _ in range(n):  # one pass per sample keeps memory at one batch, whatever n is
                z = self.encoder(x)
                latents.append(z)
                recon.append(self.decoder(z))
        finally:
            self.set_mode(False)
        return Samples(latents=torch.stack(latents), recon=torch.stack(recon))
