"""`lae_posthoc`: post-hoc Laplace approximation of a trained `ae` (paper sec. 2, appendix A "LAE (posthoc)").

`LAEPosthoc` (registry key `lae_posthoc`) takes the cached `ae` named by `dependencies(spec)`, fits a
diagonal GGN over the training set (`methods.curvature.diag_ggn`, hessian "exact" / "approx" / "mix";
or laplace-torch's `DiagLaplace` with backend "laplace", as the paper did for MLPs), and picks the prior
precision by the Laplace marginal likelihood unless `prior_precision` is given. Hessian "kfac" always uses
laplace-torch's `KronLaplace` (MLPs only). Default hessian "mix" with threshold 1024
(`methods.curvature.DEFAULT_THRESHOLD`): exact on the MLP AE, exact on the conv AE's 1024-2-1024 bottleneck
block and approximate in its conv / 2048-wide layers, at about the cost of "approx" (see the curvature
engine's docstring). `sample` draws n weight vectors theta ~ N(theta*, (H + prior)^-1):
latents `[n, B, K]`, recon `[n, B, C, H, W]`.

Prior precision (`prior_selection`, recorded in the checkpoint, the training history and `diagnostics()`):
- "marglik": the Laplace evidence maximum (appendix A, laplace-torch's `optimize_prior_precision`, the
  authors' `PosthocLaplace.optimize_precision`). On the paper's 17M-weight conv AE it is ~30-300, i.e.
  sigma ~0.06-0.2 on every weight the data does not constrain: sampled networks reconstruct badly and the
  output variance tracks image ink (issue 9: OOD variance AUROC below 0.5).
- "val_sampled" (default): starts at the evidence maximum and raises the prior by half-decades until the
  networks sampled from the posterior are usable: their mean squared error on (up to `val_images`)
  validation images is at most (1 + `val_tolerance`) times the mean network's, i.e. their unit-variance
  Gaussian validation log-likelihood is within `val_tolerance` * SSE/2 of the MAP's. The largest posterior
  variance that passes is kept (the evidence maximum when it already passes). Each candidate's validation
  MSE is in the history (`prior_search`). Validation data only, never the test split.
- A number: that prior, no search.
Likelihood and temperature: the posterior precision is H / (noise_variance * temperature) + prior.
- `observation_noise` "unit" (default: the paper and the authors, laplace-torch's sigma_noise = 1) or "mle"
  (the MAP network's training MSE per pixel, ~0.05 on MNIST: the GGN weighs ~20x more).
- `temperature` 1.0 (default: the Bayesian posterior). Below 1 a cold posterior, N(theta*, (H / T + prior)^-1):
  the online LAE's posterior is a cold one, and `temperature` lets a post-hoc Laplace be compared with it at
  equal temperature. What was measured, and where each posterior's output variance comes from:
  docs/laplace-posteriors.md.
The authors drew 50 networks at test time for post-hoc OOD (`lae_posthoc_conv.yaml`); configs/paper.yaml
sets the OOD task's per-method `n_samples` accordingly.
"""

from __future__ import annotations

import time

import torch

from laebench.params import Param

from .ae import AE
from .base import ModelSpec, Samples
from .curvature import POSTHOC_MODES
from .laplace_common import (
    SampledAutoencoder,
    hessian_params,
    posterior_health,
    sample_all_networks,
    sample_diagonal_gaussian,
    sample_weights,
    unflatten,
)
from .posthoc_backends import Backends
from .posthoc_laplace_torch import to_device
from .posthoc_prior import SEARCH_STEPS, PriorSelection  # noqa: F401 (SEARCH_STEPS: the search's length)
from .registry import register

HESSIANS = POSTHOC_MODES  # the diagonal modes and laplace-torch's "kfac"
BACKENDS = ("laebench", "laplace")
PRIOR_SELECTIONS = ("val_sampled", "marglik")
OBSERVATION_NOISES = ("mle", "unit")
LAPLACE_ARCHS = ("mlp",)


def _uses_laplace_torch(params: dict) -> bool:
    return params["backend"] == "laplace" or params["hessian"] == "kfac"


@register("lae_posthoc")
class LAEPosthoc(PriorSelection, Backends, AE):
    """Diagonal (or KFAC) Laplace approximation around the weights theta* of a trained `ae`.

    The mean theta* is the encoder/decoder weights (the checkpoint's modules); the extra state holds the
    posterior precision diagonal H + prior (or laplace-torch's KFAC state) and the prior precision.
    """

    description = "Post-hoc Laplace approximation of a trained autoencoder"
    stochastic = True
    param_spec = {
        **hessian_params(
            HESSIANS,
            "GGN structure: exact, approx, mix (laebench diagonal) or kfac (laplace-torch).",
        ),
        "prior_precision": Param(
            None,
            "Prior precision; null chooses it (prior_selection).",
            low=0,
            low_open=True,
            nullable=True,
        ),
        "backend": Param(
            "laebench",
            "Diagonal GGN by laebench's Hessian backpropagation or laplace-torch (MLPs).",
            kind="choice",
            choices=BACKENDS,
        ),
        "batch_size": Param(256, "Images per GGN batch.", kind="int", low=0, low_open=True),
        "prior_selection": Param(
            "val_sampled",
            "How a null prior is chosen: val_sampled or marglik (the evidence).",
            kind="choice",
            choices=PRIOR_SELECTIONS,
        ),
        "val_tolerance": Param(
            0.1,
            "val_sampled: sampled networks' validation MSE within (1 + this) x the MAP's.",
            low=0,
            low_open=True,
        ),
        "val_images": Param(
            1000, "val_sampled: validation images used.", kind="int", low=0, low_open=True
        ),
        "val_samples": Param(
            10,
            "val_sampled: networks sampled per candidate prior.",
            kind="int",
            low=0,
            low_open=True,
        ),
        "observation_noise": Param(
            "unit",
            "Likelihood noise variance: unit (paper, authors) or mle (training MSE).",
            kind="choice",
            choices=OBSERVATION_NOISES,
        ),
        "temperature": Param(
            1.0,
            "Posterior temperature T: precision H / T + prior; T < 1 is a cold posterior.",
            low=0,
            low_open=True,
        ),
    }

    @classmethod
    def validate_params(cls, params: dict) -> dict:
        p = super().validate_params(params)
        if p["backend"] == "laplace" and p["hessian"] not in ("exact", "kfac"):
            raise ValueError(
                f"lae_posthoc with backend 'laplace' supports hessian 'exact' (DiagLaplace) or "
                f"'kfac' (KronLaplace). Got {p['hessian']!r}; use backend 'laebench' for it."
            )
        return p

    @classmethod
    def dependencies(cls, spec: ModelSpec) -> dict[str, ModelSpec]:
        """`ae`: the plain autoencoder with the same data, model, training and seed."""
        cls._check_arch(cls.validate_params(spec.params), spec.model)
        return {"ae": spec.replace(method="ae", params={})}

    @staticmethod
    def _check_arch(params: dict, model: dict) -> None:
        if _uses_laplace_torch(params) and model.get("arch") not in LAPLACE_ARCHS:
            raise ValueError(
                f"lae_posthoc with hessian {params['hessian']!r} / backend {params['backend']!r} "
                f"uses laplace-torch, which laebench supports for arch 'mlp' only. Got arch "
                f"{model.get('arch')!r}; use backend 'laebench' with hessian exact/approx/mix."
            )

    # --- fitting ---------------------------------------------------------------------------------------
    def _fit(self, data, dependencies, reporter, checkpoint_path) -> None:
        self._check_arch(self.params, self.spec.model)
        base = dependencies.get("ae")
        if base is None or not hasattr(base, "encoder"):
            raise ValueError(
                "lae_posthoc needs the trained `ae` passed as fit(dependencies={'ae': ...}); "
                "the harness trains it first and loads it from the model cache."
            )
        self.build()
        self.encoder.load_state_dict(base.encoder.state_dict())
        self.decoder.load_state_dict(base.decoder.state_dict())
        self.set_mode(False)
        train_x = data.train_x.to(self.device)
        started = time.perf_counter()
        if _uses_laplace_torch(self.params):  # laplace-torch takes the noise when it is built
            self.noise_variance_ = self._noise_variance(
                self._training_sq_error(train_x), train_x.numel()
            )
            self._fit_laplace_torch(train_x)
        else:
            self._fit_laebench(train_x)
        self.prior_marglik_ = self.prior_precision_
        self.prior_source_ = "given" if self.params["prior_precision"] else "marglik"
        search = []
        if (
            self.params["prior_precision"] is None
            and self.params["prior_selection"] == "val_sampled"
        ):
            search = self._search_prior(
                data.val_x[: int(self.params["val_images"])].to(self.device)
            )
        record = {
            "prior_precision": self.prior_precision_,
            "prior_marglik": self.prior_marglik_,
            "prior_source": self.prior_source_,
            "log_marglik": self.log_marglik_,
            "hessian_time_s": time.perf_counter() - started,
            "val_loss": self._mean_val_loss(data),
            "prior_search": search,
            **self.diagnostics(),
        }
        if self.precision_ is not None:
            record.update(
                precision_min=float(self.precision_.min()),
                precision_max=float(self.precision_.max()),
            )
        self.history_ = [record]
        reporter(record)

    def diagnostics(self) -> dict:
        """The chosen prior, the evidence maximum, and the posterior's health (see `posterior_health`)."""
        out = {
            "posterior/prior_precision": self.prior_precision_,
            "posterior/noise_variance": getattr(self, "noise_variance_", 1.0),
            "posterior/prior_marglik": getattr(self, "prior_marglik_", self.prior_precision_),
        }
        if self.precision_ is not None:
            out.update(posterior_health(self.precision_, self.prior_precision_))
        return out

    # --- checkpoint ------------------------------------------------------------------------------------
    def extra_state(self) -> dict:
        if self.laplace_state_ is not None:
            self.laplace_state_ = self._la.state_dict()  # the prior chosen by the search
        return {
            "precision": self.precision_,
            "prior_precision": self.prior_precision_,
            "log_marglik": self.log_marglik_,
            "laplace_state": self.laplace_state_,
            "prior_marglik": getattr(self, "prior_marglik_", self.prior_precision_),
            "prior_source": getattr(self, "prior_source_", ""),
            "noise_variance": getattr(self, "noise_variance_", 1.0),
        }

    def load_extra_state(self, state: dict) -> None:
        self.noise_variance_ = state.get("noise_variance", 1.0)
        self.precision_ = state["precision"]
        self.prior_precision_ = state["prior_precision"]
        self.log_marglik_ = state.get("log_marglik")
        self.laplace_state_ = state.get("laplace_state")
        self.prior_marglik_ = state.get("prior_marglik", self.prior_precision_)
        self.prior_source_ = state.get("prior_source", "")
        if self.laplace_state_ is not None:
            self._la = self._laplace()
            self._la.load_state_dict(to_device(self.laplace_state_, self.device))

    # --- sampling --------------------------------------------------------------------------------------
    def _draw(self):
        mean = [p.detach() for p in self.network.parameters()]
        if self.precision_ is not None:
            std = unflatten(self.precision_.rsqrt(), mean)
            return lambda: sample_diagonal_gaussian(mean, std)
        return lambda: unflatten(self._la.sample(1)[0], mean)

    def _sample(self, x: torch.Tensor, n: int) -> Samples:
        self.set_mode(False)
        return sample_weights(SampledAutoencoder(self.encoder, self.decoder), self._draw(), x, n)

    def sample_all(
        self, x: torch.Tensor, n: int, *, seed: int = 0, batch_size: int = 500, decode: bool = True
    ):
        self._check_fitted()
        self.set_mode(False)
        return sample_all_networks(
            self,
            SampledAutoencoder(self.encoder, self.decoder),
            self._draw(),
            x,
            n,
            seed,
            batch_size,
            decode,
        )
