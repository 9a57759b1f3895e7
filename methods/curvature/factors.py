"""The three forms in which the engine holds M, the GGN of the loss w.r.t. a layer's output (per sample n).

- `Diag`: M_n = diag(m_n) (exact where M is diagonal, else the approximation of E.4.1);
- `Factor`: M_n = L_n^T L_n exactly, `L: [B, R, D]` (never a dense [D, D] matrix);
- `Scaled` (kind "lazy"): L_n = diag(s_n) W diag(d_n), a diagonal M pushed exactly through a Linear layer W
  (then elementwise layers d), never stored: its diagonal is d^2 (s^2 @ W^2) and its product with the next
  Linear W2 is W (d * W2).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import row_chunks


class Diag:
    """M_n = diag(m_n), `m: [B, *features]`."""

    kind, rows = "diag", 0

    def __init__(self, m: Tensor):
        self.m = m


class Factor:
    """M_n = L_n^T L_n, `L: [B, R, D]`."""

    kind = "factor"

    def __init__(self, L: Tensor):
        self.L = L

    @property
    def rows(self) -> int:
        return self.L.shape[1]

    def factor(self) -> Tensor:
        return self.L


class Scaled:
    """M_n = L_n^T L_n with L_n = diag(s_n) W diag(d_n), kept unmaterialised: `s: [B, R]`, `W: [R, D]`, `d: [B, D]`."""

    kind = "lazy"

    def __init__(self, s: Tensor, w: Tensor):
        self.s, self.w, self.d = s, w, None

    @property
    def rows(self) -> int:
        return self.w.shape[0]

    def scale_columns(self, d: Tensor) -> None:
        self.d = d if self.d is None else self.d * d

    def diag(self) -> Tensor:
        out = self.s.square() @ self.w.square()
        return out if self.d is None else out.mul_(self.d.square())

    def factor(self) -> Tensor:
        out = self.s.unsqueeze(2) * self.w
        return out if self.d is None else out.mul_(self.d.unsqueeze(1))

    def _w_times(self, w2: Tensor, rows: slice = slice(None)) -> Tensor:
        """diag(s[rows]) W[rows] (d * W2), `[B, r, Din]`. A narrow W2 (the bottleneck side) folds the batch into
        one 2-D product (d * W2)^T W^T that reads W once; a wide one runs a batched product with W broadcast
        over the batch (stride 0: `torch.matmul` would copy W once per sample)."""
        w, s = self.w[rows], self.s[:, rows].unsqueeze(2)
        if self.d is None:
            return (w @ w2).unsqueeze(0) * s
        b, d_in = len(self.d), w2.shape[1]
        if d_in < 32:
            right_t = (self.d.unsqueeze(1) * w2.T).reshape(b * d_in, -1)  # [B * Din, D]
            return (right_t @ w.T).view(b, d_in, -1).transpose(1, 2).mul(s).contiguous()
        right = self.d.unsqueeze(2) * w2  # [B, D, Din]
        return torch.bmm(w.expand(b, *w.shape), right).mul_(s)

    def times(self, w2: Tensor) -> Tensor:
        """The factor of W2^T M W2: L W2 = diag(s) W (d * W2), `[B, R, Din]`."""
        return self._w_times(w2)

    def times_to_diag(self, w2: Tensor) -> Tensor:
        """diag(W2^T M W2) = column sums of (L W2)^2, by row chunks."""
        b, r, d_in = len(self.s), self.rows, w2.shape[1]
        out = self.s.new_zeros(b, d_in)
        for rows in row_chunks(b, r, d_in):
            out += self._w_times(w2, rows).square_().sum(1)
        return out
