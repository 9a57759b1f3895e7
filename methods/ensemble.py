"""`ensemble`: deep ensemble of plain autoencoders (appendix A: 5 members, different random seeds).

`Ensemble` (registry key `ensemble`) trains nothing itself: `dependencies(spec)` names `size` ordinary
`ae` specs (seed `spec.seed * size + i`), which the harness trains as separate parallel trials and shares
with `ae` rows (so in one grid the ensemble row of seed s and the `ae` rows of seeds size*s .. size*s + size - 1
share models: not independent samples); `fit` copies their weights, so the checkpoint holds every member and
loading needs no cache. `sample(x, n)`: sample i comes from member `i % size` (`Samples.member` says which); latents
`[n, B, K]`, recon `[n, B, C, H, W]`. `sample(x, n, member=m)`: n copies of member m's output, so a caller
that iterates (an imputation chain) can stay with one member.
"""

from __future__ import annotations

import torch

from laebench.params import Param

from .architectures import build_decoder, build_encoder
from .base import Method, ModelSpec, Samples
from .registry import register

MEMBER_METHOD = "ae"  # plain AEs have no dependencies, so the dependency graph stops one level down


@register("ensemble")
class Ensemble(Method):
    """`size` independently trained AEs; each sample is one member's deterministic output."""

    description = "Deep ensemble of autoencoders"
    stochastic = True
    param_spec = {
        "size": Param(5, "Number of independently trained AEs (the paper: 5).", kind="int", low=2)
    }

    @classmethod
    def dependencies(cls, spec: ModelSpec) -> dict[str, ModelSpec]:
        """`member{i}`: the `ae` spec with the same data, model and training, seed `spec.seed * size + i`."""
        size = cls.validate_params(spec.params)["size"]
        return {
            f"member{i}": spec.replace(method=MEMBER_METHOD, params={}, seed=spec.seed * size + i)
            for i in range(size)
        }

    @property
    def size(self) -> int:
        return self.params["size"]

    def build(self) -> None:
        self.nets = {}
        for i in range(self.size):
            self.nets[f"member{i}_encoder"] = build_encoder(self.spec.model, self.image_shape).to(
                self.device
            )
            self.nets[f"member{i}_decoder"] = build_decoder(self.spec.model, self.image_shape).to(
                self.device
            )
        for net in self.nets.values():
            net.eval()

    def _fit(self, data, dependencies, reporter, checkpoint_path) -> None:
        expected = self.dependencies(self.spec)
        missing = sorted(set(expected) - set(dependencies))
        if missing:
            raise ValueError(
                f"ensemble needs its trained members {missing} (plain `ae` models) passed as "
                f"fit(dependencies=...); the harness trains and loads them from the model cache."
            )
        self.build()
        for i in range(self.size):
            member = dependencies[f"member{i}"]
            if not (hasattr(member, "encoder") and hasattr(member, "decoder")):
                raise TypeError(
                    f"ensemble member{i} must be a fitted `ae` with encoder and decoder. "
                    f"Got {type(member).__name__}."
                )
            self.nets[f"member{i}_encoder"].load_state_dict(member.encoder.state_dict())
            self.nets[f"member{i}_decoder"].load_state_dict(member.decoder.state_dict())
        self.history_ = []
        reporter({"members": self.size})

    @torch.no_grad()
    def sample(
        self, x: torch.Tensor, n: int, *, seed: int = 0, member: int | None = None
    ) -> Samples:
        """As `Method.sample`; with `member`, all n samples come from that member (deterministic)."""
        if member is None:
            return super().sample(x, n, seed=seed)
        if isinstance(member, bool) or not isinstance(member, int) or not 0 <= member < self.size:
            raise ValueError(
                f"ensemble member must be an integer in [0, {self.size}). Got {member!r}."
            )
        self._check_fitted()
        z, recon = self._member(x.to(self.device), member)
        return Samples(
            latents=z.expand(n, *z.shape).clone(),
            recon=recon.expand(n, *recon.shape).clone(),
            member=torch.full((n,), member, dtype=torch.long),
        )

    def _member(self, x: torch.Tensor, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.nets[f"member{i}_encoder"](x)
        return z, self.nets[f"member{i}_decoder"](z)

    def _sample_latents(self, x: torch.Tensor, n: int) -> Samples | None:
        codes = [self.nets[f"member{i}_encoder"](x) for i in range(min(n, self.size))]
        return Samples(
            latents=torch.stack([codes[i % self.size] for i in range(n)]),
            recon=None,
            member=torch.arange(n) % self.size,
        )

    def _sample(self, x: torch.Tensor, n: int) -> Samples:
        outputs = [self._member(x, i) for i in range(min(n, self.size))]
        latents = torch.stack([outputs[i % self.size][0] for i in range(n)])
        recon = torch.stack([outputs[i % self.size][1] for i in range(n)])
        return Samples(latents=latents, recon=recon, member=torch.arange(n) % self.size)
