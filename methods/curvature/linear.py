"""GGN rule for `nn.Linear` on `[B, in_features]` inputs (appendix E.3-E.4).

Jacobian w.r.t. the input is W; w.r.t. W[o, i] only output o moves, with slope x_i, so the parameter
diagonal needs only diag(M): diag_W = sum_n diag(M_n) x_n^2 (as `m^T @ x^2`), diag_b = sum_n diag(M_n).
Diagonal propagation (E.4.1): diag(W^T diag(m) W) = m @ W^2. A factor propagates as L W. `lazy = "product"`:
the engine expands a diagonal M at a small input exactly as the lazy factor diag(sqrt(m)) W (factors.py).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Rule, row_chunks


class LinearRule(Rule):
    has_params = True
    lazy = "product"  # the Jacobian is W: a diagonal M expands lazily as diag(sqrt(m)) W (engine.Scaled)

    def matrix(self, module: nn.Linear):
        return module.weight

    def _check_input(self, x: Tensor) -> None:
        if x.dim() != 2:
            raise NotImplementedError(
                f"The Linear rule supports inputs [B, in_features]; got shape {tuple(x.shape)}. "
                "Insert nn.Flatten before the Linear layer."
            )

    def forward(self, module, x):
        self._check_input(x)
        return module(x), None

    def row_cost(self, module, x, y):
        return module.weight.numel()

    def vjp(self, module: nn.Linear, x, y, ctx, v):
        return v @ module.weight

    def diag_backprop(self, module: nn.Linear, x, y, ctx, m):
        return m @ module.weight.square()

    def param_diag(self, module: nn.Linear, x, y, ctx, m):
        out = {"weight": m.T @ x.square()}
        if module.bias is not None:
            out["bias"] = m.sum(0)
        return out

    def param_diag_factor(self, module, x, y, ctx, L):
        # diag(L^T L) = column sums of L^2, without an L-sized temporary.
        return self.param_diag(module, x, y, ctx, torch.linalg.vector_norm(L, dim=1).square_())

    def factor_backprop(self, module, x, y, ctx, L):
        b, r, d_out = L.shape
        return (L.reshape(b * r, d_out) @ module.weight).view(
            b, r, -1
        )  # 2-D: no batched broadcast matmul

    def factor_to_diag(self, module, x, y, ctx, L):
        b, r, d_out = L.shape
        out = L.new_zeros(b, x.shape[1])
        for rows in row_chunks(b, r, max(x.shape[1], d_out)):
            part = L[:, rows].reshape(-1, d_out) @ module.weight
            out += part.view(b, -1, x.shape[1]).square_().sum(1)
        return out
