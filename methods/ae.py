"""`ae`: the plain autoencoder trained with the MSE loss (deterministic, zero variance).

`AE` is also the base class of the methods that train an encoder-decoder pair with the shared loop:
subclasses override `build` (networks), `training_loss` / `validation_loss`, and `_sample`.
"""

from __future__ import annotations

import torch
from torch import nn

from .architectures import build_decoder, build_encoder
from .base import Method, Samples
from .registry import register
from .training import fit_loop


@register("ae")
class AE(Method):
    """Autoencoder with a unit-variance Gaussian likelihood (MSE loss); one deterministic sample."""

    description = "Autoencoder, MSE loss (deterministic baseline)"
    stochastic = False
    default_params: dict = {}
    dropout = 0.0

    def build(self) -> None:
        self.encoder = build_encoder(self.spec.model, self.image_shape, dropout=self.dropout).to(
            self.device
        )
        self.decoder = build_decoder(self.spec.model, self.image_shape, dropout=self.dropout).to(
            self.device
        )
        self.nets = {"encoder": self.encoder, "decoder": self.decoder}

    @property
    def network(self) -> nn.Sequential:
        """Encoder and decoder as one Sequential (shares parameters), the form the curvature code walks."""
        return nn.Sequential(self.encoder, self.decoder)

    def training_loss(self, x: torch.Tensor) -> torch.Tensor:
        return ((self.decoder(self.encoder(x)) - x) ** 2).mean()

    def validation_loss(self, x: torch.Tensor) -> torch.Tensor:
        return self.training_loss(x)

    def _fit(self, data, dependencies, reporter, checkpoint_path) -> None:
        self.build()
        self.history_ = fit_loop(
            params=[p for net in self.nets.values() for p in net.parameters()],
            train_step_loss=self.training_loss,
            val_loss=self.validation_loss,
            train_x=data.train_x.to(self.device),
            val_x=data.val_x.to(self.device),
            settings=self.spec.train,
            get_state=self._raw_state,
            set_state=self._set_raw_state,
            set_mode=self.set_mode,
            reporter=reporter,
            after_step=self.after_step,
            epoch_metrics=self.epoch_metrics,
            checkpoint_path=checkpoint_path,
            snapshot=getattr(self, "snapshot_", None),
            seed=self.spec.seed,
            label=self.spec.key,
        )

    # hooks for subclasses
    after_step = None
    epoch_metrics = None

    def set_mode(self, training: bool) -> None:
        for net in self.nets.values():
            net.train(training)

    def _raw_state(self) -> dict:
        return {
            "modules": {k: m.state_dict() for k, m in self.nets.items()},
            "extra": self.extra_state(),
        }

    def _set_raw_state(self, state: dict) -> None:
        for k, m in self.nets.items():
            m.load_state_dict(state["modules"][k])
        self.load_extra_state(state["extra"])

    def _sample_latents(self, x: torch.Tensor, n: int) -> Samples | None:
        if (
            self.stochastic
        ):  # a sampling subclass that does not say how to skip its decoder: `sample`
            return None
        self.set_mode(False)
        z = self.encoder(x)
        return Samples(latents=z.unsqueeze(0).expand(n, *z.shape).clone(), recon=None)

    def _sample(self, x: torch.Tensor, n: int) -> Samples:
        self.set_mode(False)
        z = self.encoder(x)
        recon = self.decoder(z)
        return Samples(
            latents=z.unsqueeze(0).expand(n, *z.shape).clone(),
            recon=recon.unsqueeze(0).expand(n, *recon.shape).clone(),
        )
