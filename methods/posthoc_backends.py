"""How `lae_posthoc` fits its Laplace posterior (`Backends`, a mixin of `LAEPosthoc`): the diagonal GGN of
`methods.curvature` over the training set (backend "laebench"), or laplace-torch's DiagLaplace / KronLaplace
(backend "laplace", hessian "kfac"; `methods.posthoc_laplace_torch`)."""

from __future__ import annotations

import torch

from .laplace_common import (
    flatten,
    gaussian_log_likelihood,
    log_marginal_likelihood,
    optimise_prior_precision,
)
from .posthoc_laplace_torch import build_laplace, fit_laplace
from .training import batches


class Backends:
    """Fitting backends of a post-hoc Laplace (uses the host's params, network and prior selection)."""

    def _fit_laebench(self, train_x: torch.Tensor) -> None:
        from .curvature import diag_ggn, record_activations

        network = self.network
        ggn = [torch.zeros_like(p) for p in network.parameters()]
        sq_error = 0.0
        for xb in batches(train_x, int(self.params["batch_size"]), shuffle=False):
            with torch.no_grad(), record_activations(network) as record:  # one forward for both
                sq_error += float(((network(xb) - xb) ** 2).sum())
            g = diag_ggn(
                network,
                xb,
                self.params["hessian"],
                threshold=self.params["threshold"],
                activations=record,
            )
            torch._foreach_add_(ggn, g)
        self.noise_variance_ = self._noise_variance(
            sq_error, train_x.numel()
        )  # from the GGN pass's forwards
        h = flatten(ggn).div_(self.noise_variance_ * self.params["temperature"])
        mean = flatten([p.detach() for p in network.parameters()])
        sq_norm = float(mean.double().square().sum())
        prior = self.params["prior_precision"] or optimise_prior_precision(sq_norm, h)
        self.prior_precision_ = float(prior)
        log_lik = gaussian_log_likelihood(sq_error, train_x.numel(), self.noise_variance_)
        self.log_marglik_ = log_marginal_likelihood(log_lik, sq_norm, h, self.prior_precision_)
        self.precision_ = h + self.prior_precision_
        self.laplace_state_ = None

    def _laplace(self):
        return build_laplace(
            self.encoder,
            self.decoder,
            self.params["hessian"],
            getattr(self, "noise_variance_", 1.0),
            float(self.params["temperature"]),
        )

    def _fit_laplace_torch(self, train_x: torch.Tensor) -> None:
        la = self._laplace()
        fit_laplace(la, train_x, int(self.params["batch_size"]), self.params["prior_precision"])
        self.prior_precision_ = float(la.prior_precision.mean())
        self.log_marglik_ = float(la.log_marginal_likelihood())
        if self.params["hessian"] == "kfac":
            self.precision_, self.laplace_state_, self._la = None, la.state_dict(), la
        else:
            self.precision_, self.laplace_state_ = la.posterior_precision.detach().clone(), None
