"""The ground truth of the curvature tests: per-sample autograd brute force of diag(J^T J), and Algorithm 1 with
dense per-layer Jacobians (its "approx" and "mix" variants too, so the fast rules are checked), with the relative
errors the tests compare by.

Brute force: per-sample `jacrev` of the flattened output w.r.t. every parameter, diag(J^T J) summed over the
batch. The dense reference builds every layer's Jacobian explicitly; both are meant for tiny float64 nets.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call, jacrev

HUGE = 10**12  # a "mix" threshold above every feature size: exact everywhere


def brute_force(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    params = {k: v.detach() for k, v in model.named_parameters()}
    out = {k: torch.zeros_like(v) for k, v in params.items()}
    for n in range(x.shape[0]):
        jac = jacrev(lambda p: functional_call(model, p, (x[n : n + 1],)).flatten())(params)
        for k in out:
            out[k] += jac[k].square().sum(0)
    return list(out.values())


def leaves(module: nn.Module) -> list[nn.Module]:
    if type(module) is nn.Sequential:
        return [leaf for child in module.children() for leaf in leaves(child)]
    return [module]


def dense_algorithm1(
    model: nn.Module, x: torch.Tensor, mode: str, threshold: float = 0
) -> list[torch.Tensor]:
    """Algorithm 1 with dense per-layer Jacobians; 'approx' keeps diag(M), 'mix' switches on feature size."""
    limit = {"exact": float("inf"), "approx": -1, "mix": threshold}[mode]
    layers = leaves(model)
    result = {id(p): torch.zeros_like(p) for p in model.parameters()}
    for n in range(x.shape[0]):
        acts = [x[n : n + 1]]
        for layer in layers:
            acts.append(layer(acts[-1]))
        d_out = acts[-1].numel()
        M, full = torch.eye(d_out, dtype=x.dtype), True
        if limit < d_out:
            M, full = torch.ones(d_out, dtype=x.dtype), False
        for k in range(len(layers) - 1, -1, -1):
            layer, xk, yk = layers[k], acts[k], acts[k + 1]
            want_full = yk.numel() <= limit
            if want_full and not full:
                M = torch.diag(M)
            elif full and not want_full:
                M = torch.diagonal(M)
            full = want_full
            params = dict(layer.named_parameters())
            if params:
                jp = jacrev(lambda p: functional_call(layer, p, (xk,)).flatten())(params)
                for name, p in params.items():
                    J = jp[name].reshape(yk.numel(), -1)
                    diag = (J * (M @ J)).sum(0) if full else (M[:, None] * J.square()).sum(0)
                    result[id(p)] += diag.reshape(p.shape)
            A = jacrev(lambda z: layer(z).flatten())(xk).reshape(yk.numel(), xk.numel())
            if full:
                M = A.T @ M @ A
            elif type(layer) is nn.Linear and xk.numel() <= limit:
                M, full = A.T @ torch.diag(M) @ A, True  # the documented exact expansion for Linear
            else:
                M = (A.square() * M[:, None]).sum(0)
    return [result[id(p)] for p in model.parameters()]


def rel_err(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    """Largest per-parameter relative error ||a - b|| / ||b||."""
    return max(((u - v).norm() / v.norm().clamp_min(1e-300)).item() for u, v in zip(a, b))


def global_rel_err(a, b) -> float:
    u, v = torch.cat([t.flatten() for t in a]), torch.cat([t.flatten() for t in b])
    return ((u - v).norm() / v.norm()).item()
