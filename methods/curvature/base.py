"""The rule interface of the curvature table and the shared A^T M A propagation (appendix E.4).

`Rule` is what every layer family implements: `vjp` (A^T v for a batch of vectors), `diag_backprop`
(diag(A^T diag(m) A), E.4.1) and `param_diag` (the parameters' GGN diagonal read off M). Shapes: a full
M is `[B, D, D]` in flattened feature coordinates, a diagonal M is `[B, *feature_shape]`; `vjp` takes
`[B, K, *out_shape]` and returns `[B, K, *in_shape]`. The table and the backward loop live in engine.py.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

VJP_CHUNK_ELEMENTS = 1 << 22  # entries of one batched vjp input in full_backprop


class Rule:
    """GGN rule for one layer type; the defaults describe a layer without parameters."""

    has_params = False

    def check(self, module: nn.Module, path: str) -> None:
        """Raise (before any computation) if this instance's configuration is unsupported."""

    def forward(self, module: nn.Module, x: Tensor) -> Tensor:
        return module(x)

    def vjp(self, module: nn.Module, x: Tensor, y: Tensor, v: Tensor) -> Tensor:
        """A_n^T v for `v: [B, K, *out_shape]` -> `[B, K, *in_shape]`, A_n the Jacobian of sample n."""
        raise NotImplementedError

    def diag_backprop(self, module: nn.Module, x: Tensor, y: Tensor, m: Tensor) -> Tensor:
        """diag(A_n^T diag(m_n) A_n) for `m: [B, *out_shape]` -> `[B, *in_shape]`."""
        raise NotImplementedError

    def full_backprop(self, module: nn.Module, x: Tensor, y: Tensor, M: Tensor) -> Tensor:
        """A_n^T M_n A_n for `M: [B, Dout, Dout]` -> `[B, Din, Din]`, exact, by two batched vjps."""
        b, d_out = M.shape[0], M.shape[1]
        d_in = x[0].numel()
        step = max(1, VJP_CHUNK_ELEMENTS // (b * max(d_in, d_out)))
        # M is symmetric, so the vjps of its rows are the rows of M A; the vjps of the rows of (M A)^T are
        # the rows of A^T M A. Row chunks bound the layers' temporary buffers; peak is M + M A + result.
        ma = M.new_empty(b, d_out, d_in)
        for s in range(0, d_out, step):
            rows = M[:, s:s + step].reshape(b, -1, *y.shape[1:])
            ma[:, s:s + step] = self.vjp(module, x, y, rows).reshape(b, -1, d_in)
        out = M.new_empty(b, d_in, d_in)
        for s in range(0, d_in, step):
            rows = ma[:, :, s:s + step].transpose(1, 2).reshape(b, -1, *y.shape[1:])
            out[:, s:s + step] = self.vjp(module, x, y, rows).reshape(b, -1, d_in)
        return out

    def full_from_diag(self, module: nn.Module, x: Tensor, y: Tensor, m: Tensor) -> Tensor | None:
        """A^T diag(m) A as a full `[B, Din, Din]` where cheap (used by mode 'mix'); None otherwise."""
        return None

    def param_diag(self, module: nn.Module, x: Tensor, y: Tensor, M: Tensor, full: bool) -> dict[str, Tensor]:
        """Batch-summed GGN diagonal of the module's own parameters, keyed by parameter name."""
        return {}


class IdentityRule(Rule):
    """Layers whose Jacobian is the identity (Identity, eval-mode Dropout): M passes unchanged."""

    def forward(self, module, x):
        return x

    def vjp(self, module, x, y, v):
        return v

    def diag_backprop(self, module, x, y, m):
        return m

    def full_backprop(self, module, x, y, M):
        return M


def pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def linear_vjp(fn, in_shape: tuple[int, ...], v: Tensor) -> Tensor:
    """A^T v for a linear, sample-independent `fn` on `[N, *in_shape]`; v: `[B, K, *out_shape]`."""
    b, k = v.shape[:2]
    flat = v.reshape(b * k, *v.shape[2:])
    zeros = flat.new_zeros((b * k, *in_shape))
    _, pullback = torch.func.vjp(fn, zeros)
    return pullback(flat)[0].reshape(b, k, *in_shape)
