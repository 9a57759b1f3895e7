"""GGN rule for `nn.Linear` on `[B, in_features]` inputs (appendix E.3-E.4).

Jacobian w.r.t. the input is W; w.r.t. W[o, i] only output o moves, with slope x_i, so the parameter
diagonal needs only diag(M): diag_W[o, i] = sum_n M_n[o, o] x_n[i]^2, diag_b[o] = sum_n M_n[o, o].
Diagonal propagation (E.4.1): diag(W^T diag(m) W) = (W**2)^T m.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Rule


def _diag_of(M: Tensor, full: bool) -> Tensor:
    return M.diagonal(dim1=1, dim2=2) if full else M


class LinearRule(Rule):
    has_params = True

    def _check_input(self, x: Tensor) -> None:
        if x.dim() != 2:
            raise NotImplementedError(
                f"The Linear rule supports inputs [B, in_features]; got shape {tuple(x.shape)}. "
                "Insert nn.Flatten before the Linear layer.")

    def vjp(self, module: nn.Linear, x, y, v):
        self._check_input(x)
        return v @ module.weight

    def diag_backprop(self, module: nn.Linear, x, y, m):
        self._check_input(x)
        return m @ module.weight.square()

    def full_backprop(self, module: nn.Linear, x, y, M):
        self._check_input(x)
        w = module.weight
        return w.T @ M @ w

    def full_from_diag(self, module: nn.Linear, x, y, m):
        # Exact A^T diag(m) A: cheap when the input is small (the latent side of the decoder).
        w = module.weight
        return torch.einsum("oi,bo,oj->bij", w, m, w)

    def param_diag(self, module: nn.Linear, x, y, M, full):
        self._check_input(x)
        m = _diag_of(M, full)
        out = {"weight": m.T @ x.square()}
        if module.bias is not None:
            out["bias"] = m.sum(0)
        return out
