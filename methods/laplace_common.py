"""Helpers shared by the Laplace methods (`lae_posthoc`, `lae_online`): parameter lists, Gaussian weight
sampling and the Laplace marginal likelihood of a diagonal posterior (paper sec. 2, appendix B).

Parameters are handled as lists of tensors in `encoder.parameters()` then `decoder.parameters()` order
(the order of `nn.Sequential(encoder, decoder).parameters()` and of `methods.curvature.diag_ggn`);
`flatten` / `unflatten` convert to the flat vectors stored in checkpoints.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call

from .base import Samples


def flatten(tensors: list[Tensor]) -> Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def unflatten(flat: Tensor, like: list[Tensor]) -> list[Tensor]:
    if flat.numel() != sum(t.numel() for t in like):
        raise ValueError(
            f"Flat vector has {flat.numel()} entries; the parameters have "
            f"{sum(t.numel() for t in like)}. The checkpoint does not match the architecture."
        )
    return [chunk.view_as(t) for chunk, t in zip(flat.split([t.numel() for t in like]), like)]


class SampledAutoencoder:
    """Runs an encoder/decoder pair with parameters given as a list (sampled weights), keeping autograd.

    `forward(theta, x) -> (z, recon)`; `theta` follows `[*encoder.parameters(), *decoder.parameters()]`.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        self.encoder, self.decoder = encoder, decoder
        self.enc_names = [name for name, _ in encoder.named_parameters()]
        self.dec_names = [name for name, _ in decoder.named_parameters()]

    def forward(self, theta: list[Tensor], x: Tensor) -> tuple[Tensor, Tensor]:
        k = len(self.enc_names)
        z = functional_call(self.encoder, dict(zip(self.enc_names, theta[:k])), (x,))
        recon = functional_call(self.decoder, dict(zip(self.dec_names, theta[k:])), (z,))
        return z, recon


def sample_diagonal_gaussian(mean: list[Tensor], std: list[Tensor]) -> list[Tensor]:
    """theta = mean + eps * std with eps ~ N(0, I), one tensor per parameter (uses the global RNG)."""
    return [m + torch.randn_like(m) * s for m, s in zip(mean, std)]


@torch.no_grad()
def sample_weights(
    net: SampledAutoencoder, draw: Callable[[], list[Tensor]], x: Tensor, n: int
) -> Samples:
    """n forward passes, each with fresh weights from `draw()`; latents `[n, B, K]`, recon `[n, B, C, H, W]`."""
    latents, recon = [], []
    for _ in range(n):  # one network at a time: memory stays at one copy of the weights
        z, r = net.forward(draw(), x)
        latents.append(z)
        recon.append(r)
    return Samples(latents=torch.stack(latents), recon=torch.stack(recon))


DRAW_BUDGET_BYTES = (
    2 * 1024**3
)  # networks drawn once per evaluation are kept in memory up to this size


@torch.no_grad()
def sample_all_networks(
    method,
    net: SampledAutoencoder,
    draw: Callable[[], list[Tensor]],
    x: Tensor,
    n: int,
    seed: int,
    batch_size: int,
    decode: bool,
):
    """`Method.sample_all` for weight-sampling methods: the n networks are drawn once (after seeding, in the
    order `sample` draws them, so they are the very networks `sample(x, n, seed)` uses for every batch) and
    kept for the whole input set and the next call with the same seed and n (an evaluation's in-distribution,
    OOD and reference sets); with `decode=False` only the encoder runs. When n copies of the weights would
    exceed `DRAW_BUDGET_BYTES`, every batch draws them again (the same networks, more time)."""
    size = n * sum(
        p.numel() * p.element_size() for p in [*net.encoder.parameters(), *net.decoder.parameters()]
    )
    if size > DRAW_BUDGET_BYTES:
        for start in range(0, len(x), batch_size):
            xb = x[start : start + batch_size]
            yield method.sample(xb, n, seed=seed) if decode else method.embed(xb, n, seed=seed)
        return
    cached = getattr(method, "_drawn", None)
    if cached is None or cached[0] != (seed, n):
        method._drawn = None  # free the previous draws first
        with method._seeded(seed):
            method._drawn = ((seed, n), [draw() for _ in range(n)])
    thetas = method._drawn[1]
    k = len(net.enc_names)
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size].to(method.device)
        if decode:
            outputs = [net.forward(theta, xb) for theta in thetas]
            yield Samples(
                latents=torch.stack([z for z, _ in outputs]),
                recon=torch.stack([r for _, r in outputs]),
            )
        else:
            latents = [
                functional_call(net.encoder, dict(zip(net.enc_names, theta[:k])), (xb,))
                for theta in thetas
            ]
            yield Samples(latents=torch.stack(latents), recon=None)


def log_marginal_likelihood(log_lik: float, sq_norm: float, ggn: Tensor, prior: float) -> float:
    """Laplace log evidence with a diagonal posterior and an isotropic prior N(0, prior^-1 I):

    log p(D|theta*) - prior/2 ||theta*||^2 + P/2 log(prior) - 1/2 sum log(H + prior)
    (the 2pi terms of prior and posterior cancel). `ggn` is the flat GGN diagonal H.
    """
    ggn = ggn.double()
    return (
        log_lik
        - 0.5 * prior * sq_norm
        + 0.5 * ggn.numel() * math.log(prior)
        - 0.5 * float(torch.log(ggn + prior).sum())
    )


def optimise_prior_precision(
    sq_norm: float,
    ggn: Tensor,
    log10_range: tuple[float, float] = (-6.0, 6.0),
    iterations: int = 100,
) -> float:
    """The prior precision maximising `log_marginal_likelihood` within `10 ** log10_range`.

    With u = log(prior) and t_i = h_i / (h_i + prior), d evidence / du = 0.5 (sum_i t_i - prior ||theta||^2);
    sum_i t_i decreases and prior ||theta||^2 increases in u, so the evidence is unimodal and its maximum is
    where F(u) = log(sum_i t_i) - u - log ||theta||^2 crosses zero (or the nearer end of the range). F has
    slope -1 - sum t (1 - t) / sum t in [-2, -1]: Newton steps, kept inside a bisection bracket, converge in
    a handful of passes over the GGN (each pass: one temporary, two reductions).
    """
    h = ggn.double()
    lo, hi = (v * math.log(10.0) for v in log10_range)

    def sums(u: float) -> tuple[float, float]:
        t = torch.add(h, math.exp(u)).reciprocal_().mul_(h)  # h_i / (h_i + prior) in [0, 1)
        return float(t.sum()), float(torch.dot(t, t))

    if sums(lo)[0] <= math.exp(lo) * sq_norm:  # the evidence decreases over the whole range
        return math.exp(lo)
    if sums(hi)[0] >= math.exp(hi) * sq_norm:  # ... or increases (also when ||theta|| = 0)
        return math.exp(hi)
    log_sq = math.log(sq_norm)  # > 0 here, and sum t > 0
    u = 0.5 * (lo + hi)
    for _ in range(iterations):
        total, squares = sums(u)
        f = math.log(total) - u - log_sq
        step = f / (1 + (total - squares) / total)
        if abs(step) < 1e-13:
            return math.exp(u + step)
        if f > 0:
            lo = u
        else:
            hi = u
        u = u + step if lo < u + step < hi else 0.5 * (lo + hi)
        if hi - lo < 1e-13:
            break
    return math.exp(u)


def posterior_health(precision: Tensor, initial: float | Tensor) -> dict:
    """How far a diagonal posterior moved from where it started, for logs and the leaderboard.

    `precision` is the flat posterior precision (H + prior), `initial` its starting value (scalar or flat).
    Returns `posterior/frac_within_2x_init` (share of weights whose precision is at most twice its initial
    value: weights the data has not constrained; 1.0 = the posterior never left its start) and the min /
    median / max posterior standard deviation `posterior/sigma_{min,median,max}`.
    """
    precision = precision.detach().double()
    sigma = precision.rsqrt()
    return {
        "posterior/frac_within_2x_init": float(
            (
                precision
                <= 2 * torch.as_tensor(initial, dtype=torch.float64, device=precision.device)
            )
            .double()
            .mean()
        ),
        "posterior/sigma_min": float(sigma.min()),
        "posterior/sigma_median": float(sigma.median()),
        "posterior/sigma_max": float(sigma.max()),
    }


def gaussian_log_likelihood(sq_error: float, n_values: int, variance: float = 1.0) -> float:
    """Gaussian log-likelihood (noise `variance`) of `n_values` pixels with summed squared error `sq_error`."""
    return -0.5 * sq_error / variance - 0.5 * n_values * math.log(2 * math.pi * variance)


def hessian_params(modes, doc: str) -> dict:
    """The GGN structure and the 'mix' threshold, as both Laplace methods declare them."""
    from laebench.params import Param

    from .curvature import DEFAULT_THRESHOLD

    return {
        "hessian": Param("mix", doc, kind="choice", choices=modes),
        "threshold": Param(
            DEFAULT_THRESHOLD,
            "Hessian 'mix': layers with at most this many features are exact.",
            low=0,
        ),
    }
