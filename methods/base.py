"""The one stochastic interface every method implements and every task consumes.

A `Method` is built from a `ModelSpec` (what determines a trained model: method key and parameters,
data, architecture, training settings, seed; its `key` is the hash the model cache stores it under).
Contract (scikit-learn's, adapted): `__init__` stores configuration and does no work; `fit(data, ...)`
trains and returns self; `sample(x, n, seed=...)` returns `Samples` with latents `[n, B, K]`,
reconstruction means `[n, B, C, H, W]` and, for methods with a learned likelihood, the predicted
output variance `[n, B, C, H, W]` (else None); `state_dict` / `load_state_dict` hold everything
`sample` needs, so evaluation never retrains. A deterministic method returns n identical samples.
`embed(x, n, seed=...)` gives the same latents without the decoder (recon may be None), `sample_all(x, n,
seed=..., batch_size=...)` the samples of many batches from the same n networks, drawn once.
Methods that build on other trained models (ensemble members, the AE under a post-hoc Laplace)
declare them in `dependencies(spec)`; the harness trains those first and passes them to `fit`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from laebench.params import Parameterised

# Training settings that say how training is saved, not what it trains: left out of a model's key.
SAVING_KEYS = frozenset({"checkpoint_minutes", "snapshot_every"})


@dataclass(frozen=True)
class ModelSpec:
    """Everything that determines a trained model. Hashable; `key` names it in the cache.

    `key` hashes the configuration and the code: the fingerprint of the method's code and the keys of the
    models it is built on (`code_fingerprint`; `laebench.fingerprint`), so a model trained by code that has since
    changed is not found under the new key. `code` pins a fingerprint (a model reused with `--reuse-stale`);
    "" (the default) means the code that is there now."""

    method: str
    params: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    seed: int = 0
    code: str = ""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def config(self) -> dict:
        """What determines the model besides code (how training is saved does not: `SAVING_KEYS`)."""
        out = {k: v for k, v in self.to_dict().items() if k != "code"}
        out["train"] = {k: v for k, v in out["train"].items() if k not in SAVING_KEYS}
        return out

    @property
    def code_fingerprint(self) -> str:
        return self.code or current_code(self)

    @property
    def key(self) -> str:
        code = self.code_fingerprint
        return model_key(self.config(), "" if code == UNRECORDED else code)

    def replace(self, **changes) -> ModelSpec:
        """Another spec; a dependency made from this one (another method) never inherits its pinned code."""
        return dataclasses.replace(self, **{"code": "", **changes})

    def __hash__(self) -> int:
        return hash(self.key)


UNRECORDED = (
    "unrecorded"  # the pinned code of a model stored before fingerprints (its key hashed no code)
)


def model_key(config: dict, code: str) -> str:
    """`<method>-<16 hex digits>` of a spec's configuration and code fingerprint ("" for entries stored before
    fingerprints: their keys hashed the configuration alone)."""
    blob = json.dumps(config, sort_keys=True, default=str) + (f"\ncode {code}" if code else "")
    return f"{config['method']}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


_CODE: dict[str, str] = {}


def current_code(spec: ModelSpec) -> str:
    """The fingerprint of the code that would train `spec` now: its method class's and, through their keys,
    its dependencies'. Computed once per process and configuration (the code a process runs is the code it
    imported)."""
    from laebench.fingerprint import fingerprint

    from .registry import get

    memo = json.dumps(spec.config(), sort_keys=True, default=str)
    if memo not in _CODE:
        cls = get(spec.method)
        deps = sorted(f"{name}={dep.key}" for name, dep in cls.dependencies(spec).items())
        _CODE[memo] = hashlib.sha256("\n".join([fingerprint(cls), *deps]).encode()).hexdigest()[:16]
    return _CODE[memo]


@dataclass
class Samples:
    """n stochastic samples for a batch of B inputs.

    `member`: for methods made of separate models (ensembles), which member produced each sample (a long
    tensor `[n]`), else None. Members' latent spaces are unrelated, so tasks keep them apart (KNN fits one
    classifier per member). A method that sets `member` also accepts `sample(x, n, seed=..., member=m)`:
    n samples from member m only (an imputation chain then stays with one member).
    """

    latents: torch.Tensor  # [n, B, K]
    recon: (
        torch.Tensor | None
    )  # [n, B, C, H, W], reconstruction means (None only from `embed`: latents only)
    variance: torch.Tensor | None = None  # [n, B, C, H, W], predicted output variance, if any
    member: torch.Tensor | None = (
        None  # [n] long, the member behind each sample (ensembles), if any
    )

    def __post_init__(self):
        if self.recon is None:
            if self.latents.ndim != 3:
                raise ValueError(
                    f"Samples.latents must be [n, B, K]. Got {tuple(self.latents.shape)}."
                )
        elif (
            self.latents.ndim != 3
            or self.recon.ndim != 5
            or self.latents.shape[:2] != self.recon.shape[:2]
        ):
            raise ValueError(
                f"Samples must be latents [n, B, K] and recon [n, B, C, H, W]. "
                f"Got {tuple(self.latents.shape)} and {tuple(self.recon.shape)}."
            )
        if self.member is not None and (
            self.member.shape != self.latents.shape[:1] or self.member.is_floating_point()
        ):
            raise ValueError(
                f"Samples.member must be an integer tensor [n] = [{self.latents.shape[0]}]. "
                f"Got {self.member.dtype} {tuple(self.member.shape)}."
            )


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
    def fit(
        self,
        data,
        *,
        dependencies: dict[str, Method] | None = None,
        device: str | torch.device = "cpu",
        reporter: Callable[[dict], None] | None = None,
        checkpoint_path=None,
        snapshot: Callable[[int, dict], None] | None = None,
    ) -> Method:
        """Train on `data` (a `harness.datasets.Dataset`); returns self. `checkpoint_path`: where the training
        loop keeps its resume checkpoint; `snapshot(epoch, state)`: receives the `state_dict` at the epochs the
        training settings' `snapshot_every` names (methods trained by `methods.training.fit_loop`)."""
        self.device = torch.device(device)
        self.snapshot_ = snapshot
        torch.manual_seed(self.spec.seed)
        self._fit(data, dependencies or {}, reporter or (lambda metrics: None), checkpoint_path)
        self.fitted_ = True
        return self

    @torch.no_grad()
    def sample(self, x: torch.Tensor, n: int, *, seed: int = 0) -> Samples:
        """n samples of latents and reconstructions for the batch x `[B, C, H, W]`; reproducible per seed."""
        self._check_fitted()
        with self._seeded(seed):
            return self._sample(x.to(self.device), n)

    @torch.no_grad()
    def embed(self, x: torch.Tensor, n: int, *, seed: int = 0) -> Samples:
        """As `sample`, for embeddings: the same latents, `recon` may be None (the decoder need not run)."""
        self._check_fitted()
        with self._seeded(seed):
            out = self._sample_latents(x.to(self.device), n)
        return out if out is not None else self.sample(x, n, seed=seed)

    @torch.no_grad()
    def sample_all(
        self, x: torch.Tensor, n: int, *, seed: int = 0, batch_size: int = 500, decode: bool = True
    ) -> Iterator[Samples]:
        """`Samples` of each batch of `x` (`batch_size` inputs at a time, in order), every input scored by the same
        n networks (the same n draws of what the method samples), with `decode=False` as `embed`. One call per
        input set of an evaluation. Default: `sample` (or `embed`) per batch with the same seed, so a method
        whose draws depend only on the seed gives every batch the same networks; the Laplace methods draw their
        n networks once instead of once per batch (`methods.laplace_common.sample_all_networks`)."""
        for start in range(0, len(x), batch_size):
            xb = x[start : start + batch_size]
            yield self.sample(xb, n, seed=seed) if decode else self.embed(xb, n, seed=seed)

    def _seeded(self, seed: int):
        """Fork the RNG (CPU, and the method's GPU) and seed it: draws inside never leak out."""
        devices = [self.device] if self.device.type == "cuda" else []
        return _SeededFork(devices, seed)

    def _fit(self, data, dependencies: dict, reporter, checkpoint_path) -> None:
        raise NotImplementedError

    def _sample(self, x: torch.Tensor, n: int) -> Samples:
        raise NotImplementedError

    def _sample_latents(self, x: torch.Tensor, n: int) -> Samples | None:
        """Latent samples of x without the decoder (`Samples.recon` None), drawing exactly what `_sample` draws so
        the latents are the same; None (the default): `embed` falls back to `sample`."""
        return None

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
        return {
            "modules": {k: m.state_dict() for k, m in self.modules().items()},
            "extra": self.extra_state(),
        }

    def load_state_dict(self, state: dict, device: str | torch.device = "cpu") -> Method:
        self.device = torch.device(device)
        self.build()
        for name, module in self.modules().items():
            module.load_state_dict(state["modules"][name])
            module.to(self.device)
        self.load_extra_state(
            {
                k: v.to(self.device) if torch.is_tensor(v) else v
                for k, v in state.get("extra", {}).items()
            }
        )
        self.fitted_ = True
        return self

    def _check_fitted(self) -> None:
        if not self.fitted_:
            raise NotFittedError(
                f"Method '{self.key}' is not fitted: call fit() or load_state_dict() first."
            )


class _SeededFork:
    """`torch.random.fork_rng` on `devices`, seeded with `seed` on entry."""

    def __init__(self, devices: list, seed: int):
        self.fork, self.seed = torch.random.fork_rng(devices=devices), seed

    def __enter__(self):
        self.fork.__enter__()
        torch.manual_seed(self.seed)

    def __exit__(self, *exc):
        return self.fork.__exit__(*exc)
