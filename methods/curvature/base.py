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

What the engine needs to know is declared on the rule, and `Rule.decide` turns it into one `Step` per layer:
which form of M the layer accepts and returns (`diag_preserving`, `lazy`: see `Rule`), how much factor memory
it holds (`expand_elements`, `factor_elements`, `lazy_elements`). The engine's stepping (`engine._step`) and
its memory planner (`planner.plan_steps`) both call `decide`, so the planner follows what the step does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

VJP_CHUNK_ELEMENTS = 1 << 22  # entries of one batched vjp input / output when propagating a factor


@dataclass(frozen=True)
class Step:
    """What the engine does at one layer, given the form of M at its output (see `Rule.decide`).

    `compress`: first QR the incoming factor down to `d_out` rows. `action`: "diag" (`diag_step`), "expand"
    (a diagonal M becomes the factor `expand_diag`), "expand_lazy" (... the lazy factor diag(sqrt m) W, W =
    `matrix(module)`), "keep" / "scale" (a lazy factor passes unchanged / gets its columns scaled by
    `derivative`), "product" (a lazy factor times `matrix(module)`), "factor" (a factor propagates by
    `factor_backprop` or leaves as `factor_to_diag`). `out`: the form of M at the layer input, "diag",
    "factor", "lazy" or None (not needed); `rows`: its rows (factor, lazy). `elements`: per-sample entries of
    the factors held during the step (the memory planner's measure).
    """

    compress: bool
    action: str
    out: str | None
    rows: int
    elements: int


class Rule:
    """GGN rule for one layer type; the defaults describe a layer without parameters."""

    has_params = False
    # Every row of the input Jacobian has at most one nonzero (elementwise maps, max pooling, nearest
    # upsampling, reshapes): A^T diag(m) A is then diagonal, so a diagonal M stays exact.
    diag_preserving = False
    # What the layer does with the lazy factor diag(s) W diag(d) of an exact M (engine.Scaled): "keep"
    # (identity Jacobian), "scale" (diagonal Jacobian `derivative(module, x, y)`: multiplies d), "product"
    # (Jacobian `matrix(module)`, a weight: the product is taken lazily, and a diagonal M entering the layer
    # is expanded into the lazy factor diag(sqrt m) W, whatever the output size), "materialize" (form the
    # factor, then propagate it as any factor).
    lazy = "materialize"

    # --- what the engine does here: one decision for stepping and planning -----------------------------
    def expands(self, d_out: int, d_in: int, limit: float) -> bool:
        """Whether a diagonal M entering this layer becomes an exact (factor) M at its input."""
        if self.diag_preserving or d_in > limit:
            return False
        return self.lazy == "product" or d_out <= limit

    def decide(
        self,
        kind: str,
        rows: int,
        module: nn.Module,
        x: Tensor,
        y: Tensor,
        need_input: bool,
        limit: float,
    ) -> Step:
        """The `Step` for M of form `kind` ("diag", "factor", "lazy") with `rows` rows at this layer's output
        `y` (input `x`); `limit`: the largest feature size where M is kept exact (mode "mix")."""
        d_out, d_in = y[0].numel(), x[0].numel()
        if kind == "diag":
            if not (need_input and self.expands(d_out, d_in, limit)):
                return Step(False, "diag", "diag" if need_input else None, 0, 0)
            if self.lazy == "product":
                return Step(False, "expand_lazy", "lazy", d_out, self.expand_elements(d_out, d_in))
            return Step(False, "expand", "factor", d_out, self.expand_elements(d_out, d_in))
        held = 0
        compress = should_compress(
            rows, d_out, self.row_cost(module, x, y) * (self.has_params + need_input)
        )
        if compress:
            kind, rows, held = "factor", d_out, rows * d_out + d_out * d_out
        to_factor = d_in <= limit
        if kind == "lazy" and self.lazy in ("keep", "scale"):
            return Step(compress, self.lazy, "lazy", rows, held)
        if kind == "lazy" and self.lazy == "product":
            action, held = "product", max(held, self.lazy_elements(rows, d_out, d_in, to_factor))
        else:
            action, held = "factor", max(held, self.factor_elements(rows, d_out, d_in, to_factor))
        out = None if not need_input else ("factor" if to_factor else "diag")
        return Step(compress, action, out, rows if out == "factor" else 0, held)

    def expand_elements(self, d_out: int, d_in: int) -> int:
        """Per-sample entries of the factor that `expand_diag` allocates (none for a lazy expansion)."""
        return 0 if self.lazy == "product" else d_out * d_in

    def factor_elements(self, rows: int, d_out: int, d_in: int, to_factor: bool) -> int:
        """Per-sample entries held while a factor of `rows` rows crosses the layer: L and L A (if kept)."""
        return rows * (d_out + (d_in if to_factor else 0))

    def lazy_elements(self, rows: int, d_out: int, d_in: int, to_factor: bool) -> int:
        """As `factor_elements`, for action "product": the [D, Din] temporary (d * W2) and the product."""
        return d_out * d_in + (rows * d_in if to_factor else 0)

    def matrix(self, module: nn.Module) -> Tensor:
        """The input Jacobian as a [Dout, Din] matrix, for rules with `lazy = "product"`."""
        raise NotImplementedError

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

    def param_diag(
        self, module: nn.Module, x: Tensor, y: Tensor, ctx: Any, m: Tensor
    ) -> dict[str, Tensor]:
        """Batch-summed parameter GGN diagonal for a diagonal M, keyed by parameter name."""
        return {}

    def diag_step(
        self, module: nn.Module, x: Tensor, y: Tensor, ctx: Any, m: Tensor, need_input: bool
    ) -> tuple[dict[str, Tensor], Tensor | None]:
        """`param_diag` and (if `need_input`) `diag_backprop` in one call; rules fuse them where useful.

        The engine owns `m` and never reads it again, so rules may overwrite it.
        """
        params = self.param_diag(module, x, y, ctx, m) if self.has_params else {}
        return params, self.diag_backprop(module, x, y, ctx, m) if need_input else None

    def param_diag_factor(
        self, module: nn.Module, x: Tensor, y: Tensor, ctx: Any, L: Tensor
    ) -> dict[str, Tensor]:
        """Batch-summed parameter GGN diagonal for M_n = L_n^T L_n, `L: [B, R, Dout]`."""
        return {}

    # --- factor propagation, built on `vjp` (rules override where a single op does it) --------------------
    def factor_backprop(
        self, module: nn.Module, x: Tensor, y: Tensor, ctx: Any, L: Tensor
    ) -> Tensor:
        """The factor of A^T M A: L A, `[B, R, Dout] -> [B, R, Din]` (row chunks bound the temporaries)."""
        b, r, d_in = L.shape[0], L.shape[1], x[0].numel()
        out = L.new_empty(b, r, d_in)
        for rows in row_chunks(b, r, max(d_in, L.shape[2])):
            v = L[:, rows].reshape(b, -1, *y.shape[1:])
            out[:, rows] = self.vjp(module, x, y, ctx, v).reshape(b, -1, d_in)
        return out

    def factor_to_diag(
        self, module: nn.Module, x: Tensor, y: Tensor, ctx: Any, L: Tensor
    ) -> Tensor:
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
            out[:, rows] = self.vjp(module, x, y, ctx, eye.view(b, -1, *y.shape[1:])).reshape(
                b, -1, d_in
            )
        return out


class IdentityRule(Rule):
    """Layers whose Jacobian is the identity (Identity, eval-mode Dropout): M passes unchanged."""

    diag_preserving = True
    lazy = "keep"

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


def should_compress(rows: int, d: int, cost_per_row: int) -> bool:
    """QR (~2 R D^2) pays for itself if it saves more on this layer's work ((R - D) rows of `cost_per_row`)."""
    return rows > d and 2 * rows * d * d < (rows - d) * cost_per_row


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
