"""The one stochastic interface every method implements and every task consumes.

A `Method` is built from a `ModelSpec` (what determines a trained model: method key and parameters,
data, architecture, training settings, seed; its `key` is the hash the model cache stores it under).
Contract (scikit-learn's, adapted): `__init__` stores configuration and does no work; `fit(data, ...)`
trains and returns self; `sample(x, n, seed=...)` returns `Samples` with latents `[n, B, K]`,
reconstruction means `[n, B, C, H, W]` and, for methods with a learned likelihood, the predicted
output variance `[n, B, C, H, W]` (else None); `state_dict` / `load_state_dict` hold everything
`sample` needs, so evaluation never retrains. A deterministic method returns n identical samples.
Methods that build on other trained models (ensemble members, the AE under a post-hoc Laplace)
declare them in `dependencies(spec)`; the harness trains those first and passes them to `fit`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from laebench.params import Parameterised


@dataclass(frozen=True)
class ModelSpec:
    """Everything that determines a trained model. Hashable; `key` names it in the cache."""

    method: str
    params: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    seed: int = 0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def key(self) -> str:
        blob = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return f"{self.method}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"

    def replace(self, **changes) -> "ModelSpec":
        return dataclasses.replace(self, **changes)

    def __hash__(self) -> int:
        return hash(self.key)


@dataclass
class Samples:
    """n stochastic samples for a batch of B inputs.

    `member`: for methods made of separate models (ensembles), which member produced each sample (a long
    tensor `[n]`), else None. Members' latent spaces are unrelated, so tasks keep them apart (KNN fits one
    classifier per member). A method that sets `member` also accepts `sample(x, n, seed=..., member=m)`:
    n samples from member m only (an imputation chain then stays with one member).
    """

    latents: torch.Tensor  # [n, B, K]
    recon: torch.Tensor  # [n, B, C, H, W], reconstruction means
    variance: torch.Tensor | None = None  # [n, B, C, H, W], predicted output variance, if any
    member: torch.Tensor | None = None  # [n] long, the member behind each sample (ensembles), if any

    def __post_init__(self):
        if self.latents.ndim != 3 or self.recon.ndim != 5 or self.latents.shape[:2] != self.recon.shape[:2]:
            raise ValueError(f"Samples must be latents [n, B, K] and recon [n, B, C, H, W]. "
                             f"Got {tuple(self.latents.shape)} and {tuple(self.recon.shape)}.")
        if self.member is not None and (self.member.shape != self.latents.shape[:1] or self.member.is_floating_point()):
            raise ValueError(f"Samples.member must be an integer tensor [n] = [{self.latents.shape[0]}]. "
                             f"Got {self.member.dtype} {tuple(self.member.shape)}.")


class NotFittedError(RuntimeError):
    """`sample` or `state_dict` was called before `fit` or `load_state_dict`."""


class Method(Parameterised):
    """Base class of autoencoder methods. Subclass, declare `param_spec` (or set `default_params`), implement
    `_fit` and `_sample`. `key`, `description`, `param_spec` and `validate_params`: `laebench.params.Parameterised`."""

    kind = "method"
    stochastic: bool = True

    def __init__(self, spec: ModelSpec, image_shape: tuple[int, int, int]):
        self.spec = spec
        self.image_shape = tuple(image_shape)
        self.params = self.validate_params(spec.params)
        self.device = torch.device("cpu")
        self.fitted_ = False

    # --- configuration --------------------------------------------------------------------------------
    @classmethod
    def dependencies(cls, spec: ModelSpec) -> dict[str, ModelSpec]:
        """Other trained models this one is built from, by name. Default: none."""
        return {}

    # --- fitting and sampling ---------------------------------------------------------------------------
    def fit(self, data, *, dependencies: dict[str, "Method"] | None = None, device: str | torch.device = "cpu",
            reporter: Callable[[dict], None] | None = None, checkpoint_path=None) -> "Method":
        """Train on `data` (a `harness.data.Dataset`); returns self."""
        self.device = torch.device(device)
        torch.manual_seed(self.spec.seed)
        self._fit(data, dependencies or {}, reporter or (lambda metrics: None), checkpoint_path)
        self.fitted_ = True
        return self

    @torch.no_grad()
    def sample(self, x: torch.Tensor, n: int, *, seed: int = 0) -> Samples:
        """n samples of latents and reconstructions for the batch x `[B, C, H, W]`; reproducible per seed."""
        self._check_fitted()
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            out = self._sample(x.to(self.device), n)
        return out

    def _fit(self, data, dependencies: dict, reporter, checkpoint_path) -> None:
        raise NotImplementedError

    def _sample(self, x: torch.Tensor, n: int) -> Samples:
        raise NotImplementedError

    # --- checkpoints -------------------------------------------------------------------------------------
    def modules(self) -> dict[str, nn.Module]:
        """The networks whose weights make up the checkpoint (override or set `self.nets`)."""
        return getattr(self, "nets", {})

    def extra_state(self) -> dict:
        """Non-module state needed by `sample` (e.g. Laplace precisions). Tensors or plain values."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass

    def build(self) -> None:
        """Create the (untrained) networks; called before fitting or loading."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        self._check_fitted()
        return {"modules": {k: m.state_dict() for k, m in self.modules().items()},
                "extra": self.extra_state()}

    def load_state_dict(self, state: dict, device: str | torch.device = "cpu") -> "Method":
        self.device = torch.device(device)
        self.build()
        for name, module in self.modules().items():
            module.load_state_dict(state["modules"][name])
            module.to(self.device)
        self.load_extra_state({k: v.to(self.device) if torch.is_tensor(v) else v
                               for k, v in state.get("extra", {}).items()})
        self.fitted_ = True
        return self

    def _check_fitted(self) -> None:
        if not self.fitted_:
            raise NotFittedError(f"Method '{self.key}' is not fitted: call fit() or load_state_dict() first.")
