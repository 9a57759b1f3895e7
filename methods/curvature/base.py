"""The rule interface of the curvature table (appendix E.4) and the helpers shared by the layer families.

Every layer family implements a `Rule`. The engine (engine.py) holds M, the GGN of the loss w.r.t. a layer's
output, in one of two forms: a diagonal `m: [B, *feature_shape]` or a factor `L: [B, R, D]` (flattened
features, D = feature size) with M_n = L_n^T L_n exactly. A rule supplies, for its Jacobian A (input) and
its parameter Jacobians:

- `vjp`: A^T v for a batch of row vectors, `[B, K, *out_shape] -> [B, K, *in_shape]` (propagates a factor:
  the rows of L A are the vjps of the rows of L);
- `diag_step`: from a diagonal m, the parameter diagonal sum_n diag(J_theta^T diag(m_n) J_theta) and
  diag(A^T diag(m) A) (E.4.1), fused where that saves passes over memory;
- `param_diag_factor`: the parameter diagonal from a factor, sum_{n,r} (J_theta^T L_{n,r})^2.

`forward` returns the layer output and an optional context (e.g. max-pool indices) that the backward
rules receive as `ctx`; when the activations were recorded elsewhere `ctx` is None and rules recompute it.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

VJP_CHUNK_ELEMENTS = 1 << 22  # entries of one batched vjp input / output when propagating a factor


class Rule:
    """GGN rule for one layer type; the defaults describe a layer without parameters."""

    has_params = False
    # Every row of the input Jacobian has at most one nonzero (elementwise maps, max pooling, nearest
    # upsampling, reshapes): A^T diag(m) A is then diagonal, so a diagonal M stays exact.
    diag_preserving = False

    def check(self, module: nn.Module, path: str) -> None:
        """Raise (before any computation) if this instance's configuration is unsupported."""

    def forward(self, module: nn.Module, x: Tensor) -> tuple[Tensor, Any]:
        return module(x), None

    def recorded_ctx(self, module: nn.Module, output: Tensor) -> Any:
        """The context `forward` would return, if it can be read off an output recorded elsewhere; else None."""
        return None

    def row_cost(self, module: nn.Module, x: Tensor, y: Tensor) -> int:
        """Rough multiply-adds of one vjp row per sample (chooses when to compress a factor)."""
        return x[0].numel() + y[0].numel()

    def vjp(self, module: nn.Module, x: Tensor, y: Tensor, ctx: Any, v: Tensor) -> Tensor:
        """A_n^T v for `v: [B, K, *out_shape]` -> `[B, K, *in_shape]`, A_n the Jacobian of sample n."""
        raise NotImplementedError

    def diag_backprop(self, module: nn.Module, x: Tensor, y: Tensor, ctx: Any, m: Tensor) -> Tensor:
        """diag(A_n^T diag(m_n) A_n) for `m: [B, *out_shape]` -> `[B, *in_shape]`."""
        raise NotImplementedError

    def param_diag(self, module: nn.Module, x: Tensor, y: Tensor, ctx: Any, m: Tensor) -> dict[str, Tensor]:
        """Batch-summed parameter GGN diagonal for a diagonal M, keyed by parameter name."""
        return {}

    def diag_step(self, module: nn.Module, x: Tensor, y: Tensor, ctx: Any, m: Tensor,
                  need_input: bool) -> tuple[dict[str, Tensor], Tensor | None]:
        """`param_diag` and (if `need_input`) `diag_backprop` in one call; rules fuse them where useful.

        The engine owns `m` and never reads it again, so rules may overwrite it.
        """
        params = self.param_diag(module, x, y, ctx, m) if self.has_params else {}
        return params, self.diag_backprop(module, x, y, ctx, m) if need_input else None

    def param_diag_factor(self, module: nn.Module, x: Tensor, y: Tensor, ctx: Any, L: Tensor) -> dict[str, Tensor]:
        """Batch-summed parameter GGN diagonal for M_n = L_n^T L_n, `L: [B, R, Dout]`."""
        return {}

    # --- factor propagation, built on `vjp` (rules override where a single op does it) --------------------
    def factor_backprop(self, module: nn.Module, x: Tensor, y: Tensor, ctx: Any, L: Tensor) -> Tensor:
        """The factor of A^T M A: L A, `[B, R, Dout] -> [B, R, Din]` (row chunks bound the temporaries)."""
        b, r, d_in = L.shape[0], L.shape[1], x[0].numel()
        out = L.new_empty(b, r, d_in)
        for rows in row_chunks(b, r, max(d_in, L.shape[2])):
            v = L[:, rows].reshape(b, -1, *y.shape[1:])
            out[:, rows] = self.vjp(module, x, y, ctx, v).reshape(b, -1, d_in)
        return out

    def factor_to_diag(self, module: nn.Module, x: Tensor, y: Tensor, ctx: Any, L: Tensor) -> Tensor:
        """diag(A^T L^T L A) = column sums of (L A)^2, `[B, R, Dout] -> [B, *in_shape]`, exact, by row chunks."""
        b, r, d_in = L.shape[0], L.shape[1], x[0].numel()
        out = L.new_zeros(b, d_in)
        for rows in row_chunks(b, r, max(d_in, L.shape[2])):
            v = L[:, rows].reshape(b, -1, *y.shape[1:])
            out += self.vjp(module, x, y, ctx, v).reshape(b, -1, d_in).square().sum(1)
        return out.view(x.shape)

    def expand_diag(self, module: nn.Module, x: Tensor, y: Tensor, ctx: Any, m: Tensor) -> Tensor:
        """A factor of A^T diag(m) A: the rows sqrt(m_o) A[o, :], `[B, *out_shape] -> [B, Dout, Din]`."""
        b, d_out, d_in = len(m), m[0].numel(), x[0].numel()
        s = m.reshape(b, d_out).sqrt()
        out = m.new_empty(b, d_out, d_in)
        for rows in row_chunks(b, d_out, max(d_in, d_out)):
            eye = m.new_zeros(b, rows.stop - rows.start, d_out)
            eye.diagonal(rows.start, 1, 2).copy_(s[:, rows])
            out[:, rows] = self.vjp(module, x, y, ctx, eye.view(b, -1, *y.shape[1:])).reshape(b, -1, d_in)
        return out


class IdentityRule(Rule):
    """Layers whose Jacobian is the identity (Identity, eval-mode Dropout): M passes unchanged."""

    diag_preserving = True

    def forward(self, module, x):
        return x, None

    def row_cost(self, module, x, y):
        return 0

    def vjp(self, module, x, y, ctx, v):
        return v

    def diag_backprop(self, module, x, y, ctx, m):
        return m

    def factor_backprop(self, module, x, y, ctx, L):
        return L


def pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def linear_vjp(fn, in_shape: tuple[int, ...], v: Tensor) -> Tensor:
    """A^T v for a linear, sample-independent `fn` on `[N, *in_shape]`; v: `[B, K, *out_shape]`."""
    b, k = v.shape[:2]
    flat = v.reshape(b * k, *v.shape[2:])
    zeros = flat.new_zeros((b * k, *in_shape))
    _, pullback = torch.func.vjp(fn, zeros)
    return pullback(flat)[0].reshape(b, k, *in_shape)


def row_chunks(b: int, rows: int, width: int):
    """Slices of `rows` so that one chunk of a `[b, rows, width]` tensor has about VJP_CHUNK_ELEMENTS entries."""
    step = max(1, VJP_CHUNK_ELEMENTS // max(1, b * width))
    return [slice(s, min(rows, s + step)) for s in range(0, rows, step)]
