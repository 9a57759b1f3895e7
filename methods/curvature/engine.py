"""The rule table, the model walk and Algorithm 1 (appendix E.4) with the diagonal variant of E.4.1.

`SUPPORTED_LAYERS` maps `type(module)` to its rule; `check_supported(model)` flattens nested
`nn.Sequential`s and validates every leaf before any computation; `diag_ggn(model, x, mode)` runs one
stored forward pass (or reuses one recorded by `record_activations`) and backpropagates M, the GGN of the
loss w.r.t. each layer's output, from the output down to the first layer with parameters.
Returns one tensor per `model.parameters()` entry, summed over the batch.

How M is held (per sample):
- diagonal `m: [B, *features]`: mode "approx" everywhere (E.4.1: diag(A^T diag(m) A) only); also exact
  wherever M really is diagonal: at the output (precision * I) and after layers whose Jacobian rows have one
  nonzero (activations, max pooling, nearest upsampling, reshapes), which keep a diagonal M diagonal.
- factor `L: [B, R, D]` with M = L^T L exactly: created when a diagonal M has to become non-diagonal
  (rows sqrt(m_o) A[o, :]), propagated by vjps (L -> L A), and compressed to R = D by a QR decomposition
  (L^T L = R^T R) when R > D and that pays for itself on the next layer. No M is ever formed as a dense
  [B, D, D] matrix, and near a bottleneck of width k the factor has k rows, so everything on the far side
  of the bottleneck costs k vjps per sample.
- lazy factor `diag(sqrt(m)) W diag(d)` for a diagonal M pushed exactly through a Linear layer W [R, D]
  (and then elementwise layers d): its diagonal is d^2 (m @ W^2) and its product with the next Linear
  W2 is computed as W @ (d * W2), so the R x D factor is never stored.

Modes: "exact" keeps M exact everywhere. "approx" keeps only diag(M). "mix" (paper sec. 3: exact near the
bottleneck, approximate where feature maps are large) keeps M exact where the layer's features have at
most `threshold` entries per sample: the diagonal M entering a layer whose input and output are both
small (or a Linear layer with a small input) is expanded exactly; an exact M entering a layer with a large
input leaves it as the exact diagonal of J^T M J (column sums of (L A)^2, computed from the factor in row
chunks; never a [D_in, D_in] matrix); from there on M is diagonal (approximate) until the next small
region. `threshold=inf` is "exact", `threshold=0` is "approx".

Default threshold (1024): on the paper's conv AE (1x28x28, hidden 2048/1024, latent 2) M enters the
1024-2-1024 bottleneck block as the (approximate) diagonal at the decoder's 2048-wide features, is propagated
exactly through the block, and leaves it as the exact diagonal at the encoder's 2048-wide features; the
conv and 2048/3136-wide layers use the approximate diagonal (the output layer sees the exact precision * I).
It costs about as much as "approx": the decoder's 2048 -> 1024 expansion stays lazy (~2048 x 1024 x 2
multiply-adds per sample) and no factor is larger than [B, 2048, 2]. A threshold of 2048 or more (e.g. the
old default 4096) would expand the 3136-wide diagonal through the decoder's 2048->3136 layer into a
3136-row factor and push it through 2048->1024: ~6.6 G multiply-adds per sample, inherently (that is the
exact M at the 1024 features). On the MLP AE (784-512-256-2) every feature map is <= 1024, so "mix" with the
default is "exact" there (as the paper used for linear layers).
Memory: at most about R x D entries per sample for the factor, bounded by splitting the batch into chunks
(`FACTOR_BUDGET_BYTES`).
"""
from __future__ import annotations

import math
from numbers import Real

import torch
from torch import Tensor, nn

from .activations import ACTIVATION_RULES, Elementwise
from .base import IdentityRule, Rule, row_chunks
from .conv import Conv2dRule, ConvTranspose2dRule
from .linear import LinearRule
from .pooling import AvgPool2dRule, MaxPool2dRule, UpsampleNearestRule
from .reshape import RESHAPE_RULES, ReshapeRule

SUPPORTED_LAYERS: dict[type[nn.Module], Rule] = {
    nn.Linear: LinearRule(),
    nn.Conv2d: Conv2dRule(),
    nn.ConvTranspose2d: ConvTranspose2dRule(),
    nn.MaxPool2d: MaxPool2dRule(),
    nn.AvgPool2d: AvgPool2dRule(),
    nn.Upsample: UpsampleNearestRule(),
    nn.UpsamplingNearest2d: UpsampleNearestRule(),
    **ACTIVATION_RULES,
    **RESHAPE_RULES,
}
MODES = ("exact", "approx", "mix")
DEFAULT_THRESHOLD = 1024
# Auto chunking keeps the factors of one chunk (input and output of a layer) under this many bytes.
FACTOR_BUDGET_BYTES = 1 << 30


def _is_plain_sequential(module: nn.Module) -> bool:
    return isinstance(module, nn.Sequential) and type(module).forward is nn.Sequential.forward


def check_supported(model: nn.Module) -> list[tuple[str, nn.Module, Rule]]:
    """Flatten `model` into its leaf layers and check each has a rule.

    Returns:
        `[(path, module, rule), ...]` in forward order.
    Raises:
        NotImplementedError: a layer (or container with a custom forward) has no rule, a rule does not
            support the layer's configuration, or a module/parameter is used twice.
        ValueError: a Dropout layer is in training mode with p > 0.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module. Got {type(model).__name__}.")
    layers: list[tuple[str, nn.Module, Rule]] = []

    def walk(module: nn.Module, path: str) -> None:
        if _is_plain_sequential(module):
            for name, child in module._modules.items():  # named_children() would hide a repeated layer
                walk(child, f"{path}.{name}" if path else name)
            return
        shown = path or "<model>"
        rule = SUPPORTED_LAYERS.get(type(module))
        if rule is None:
            supported = ", ".join(sorted({t.__name__ for t in SUPPORTED_LAYERS} | {"Sequential"}))
            raise NotImplementedError(f"No Hessian rule for module '{shown}' ({type(module).__name__}). "
                                      f"Supported: {supported}. Add a rule in methods/curvature/.")
        rule.check(module, shown)
        layers.append((shown, module, rule))

    walk(model, "")
    seen_modules, seen_params = {}, {}
    for path, module, _ in layers:
        if id(module) in seen_modules:
            raise NotImplementedError(f"Module '{path}' is the same object as '{seen_modules[id(module)]}': "
                                      "shared layers are not supported (their GGN diagonal has cross terms).")
        seen_modules[id(module)] = path
        for p in module.parameters():
            if id(p) in seen_params:
                raise NotImplementedError(f"A parameter of '{path}' is shared with '{seen_params[id(p)]}': "
                                          "tied weights are not supported.")
            seen_params[id(p)] = path
    return layers


class record_activations:
    """Context manager that records every leaf layer's output during one forward pass of `model`.

    `with record_activations(net) as rec: loss = loss_fn(net(x))` (any call that runs the same modules,
    e.g. `torch.func.functional_call` with other weights), then `diag_ggn(net_with_those_weights, x,
    activations=rec)` skips its own forward. The outputs are detached views of the forward's tensors (no
    copy). Layers with `inplace=True` are refused: they overwrite the previous layer's recorded output.
    """

    def __init__(self, model: nn.Module):
        self.layers = check_supported(model)
        for path, module, _ in self.layers:
            if getattr(module, "inplace", False):
                raise NotImplementedError(f"record_activations: module '{path}' ({type(module).__name__}) is "
                                          "in-place and would overwrite the recorded input. Use inplace=False "
                                          "or call diag_ggn without activations.")
        self.outputs: list[Tensor] = []
        self.ctxs: list = []
        self._handles = []

    def _hooks(self, rule: Rule):
        def hook(module, inputs, output) -> None:
            self.ctxs.append(rule.recorded_ctx(module, output))
            self.outputs.append(output.detach())
        return hook

    def __enter__(self) -> "record_activations":
        self.outputs, self.ctxs = [], []
        self._handles = [module.register_forward_hook(self._hooks(rule)) for _, module, rule in self.layers]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


def _validate(x, mode, threshold, precision, chunk_size) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor. Got {type(x).__name__}.")
    if x.dim() < 2:
        raise ValueError(f"x must be batched, [B, ...]. Got shape {tuple(x.shape)}.")
    if mode not in MODES:
        raise ValueError(f"Unknown mode '{mode}'. Available: {', '.join(MODES)}.")
    if not isinstance(threshold, Real) or isinstance(threshold, bool) or threshold < 0:
        raise ValueError(f"threshold must be a number >= 0. Got {threshold!r}.")
    if not isinstance(precision, Real) or isinstance(precision, bool) or not precision > 0:
        raise ValueError(f"precision must be a positive number. Got {precision!r}.")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"chunk_size must be a positive int or None. Got {chunk_size!r}.")


# ----------------------------------------------------------------------------- representations of M
class Diag:
    """M_n = diag(m_n), `m: [B, *features]`."""

    def __init__(self, m: Tensor):
        self.m = m


class Factor:
    """M_n = L_n^T L_n, `L: [B, R, D]`."""

    def __init__(self, L: Tensor):
        self.L = L

    @property
    def rows(self) -> int:
        return self.L.shape[1]

    def factor(self) -> Tensor:
        return self.L


class Scaled:
    """M_n = L_n^T L_n with L_n = diag(s_n) W diag(d_n), kept unmaterialised: `s: [B, R]`, `W: [R, D]`, `d: [B, D]`."""

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


def _expands(rule: Rule, d_out: int, d_in: int, limit: float) -> bool:
    """Whether a diagonal M entering this layer becomes an exact (factor) M at its input."""
    if rule.diag_preserving or d_in > limit:
        return False
    return isinstance(rule, LinearRule) or d_out <= limit


def _should_compress(rows: int, d: int, cost_per_row: int) -> bool:
    """QR (~2 R D^2) pays for itself if it saves more on this layer's work ((R - D) rows of `cost_per_row`)."""
    return rows > d and 2 * rows * d * d < (rows - d) * cost_per_row


def _compress(L: Tensor) -> Tensor:
    """A [B, D, D] factor R with R^T R = L^T L (QR of L), for L: [B, R, D] with R > D."""
    return torch.linalg.qr(L, mode="r")[1]


def _row_cost(rule: Rule, module, x, y, need_input: bool) -> int:
    return rule.row_cost(module, x, y) * (int(rule.has_params) + int(need_input))


def _is_passthrough(rule: Rule) -> bool:
    return isinstance(rule, (ReshapeRule, IdentityRule))


# ----------------------------------------------------------------------------- one layer of the backward pass
def _step(state, rule: Rule, module, x, y, ctx, need_input: bool, limit: float):
    """(parameter diagonals, M at the layer input) from M at the layer output."""
    d_out, d_in = y[0].numel(), x[0].numel()
    if isinstance(state, Diag):
        if not (need_input and _expands(rule, d_out, d_in, limit)):
            params, m = rule.diag_step(module, x, y, ctx, state.m, need_input)
            return params, (Diag(m) if need_input else None)
        params = rule.param_diag(module, x, y, ctx, state.m) if rule.has_params else {}
        if isinstance(rule, LinearRule):
            return params, Scaled(state.m.sqrt(), module.weight)
        return params, Factor(rule.expand_diag(module, x, y, ctx, state.m))

    if _should_compress(state.rows, d_out, _row_cost(rule, module, x, y, need_input)):
        state = Factor(_compress(state.factor()))
    if isinstance(state, Scaled):
        if _is_passthrough(rule):
            return {}, state
        if isinstance(rule, Elementwise):
            state.scale_columns(rule.derivative(module, x, y).reshape(len(x), -1))
            return {}, state
        if isinstance(rule, LinearRule):
            params = rule.param_diag(module, x, y, ctx, state.diag())
            if not need_input:
                return params, None
            if d_in <= limit:
                return params, Factor(state.times(module.weight))
            return params, Diag(state.times_to_diag(module.weight))
        state = Factor(state.factor())
    L = state.L
    params = rule.param_diag_factor(module, x, y, ctx, L) if rule.has_params else {}
    if not need_input:
        return params, None
    if d_in <= limit:
        return params, Factor(rule.factor_backprop(module, x, y, ctx, L))
    return params, Diag(rule.factor_to_diag(module, x, y, ctx, L))


def _plan_peak_elements(layers, xs, ys, first: int, limit: float) -> int:
    """Per-sample entries of the largest factors alive at once, following `_step`'s decisions on shapes."""
    kind, rows, peak = "diag", 0, 0
    for k in range(len(layers) - 1, first - 1, -1):
        _, module, rule = layers[k]
        x, y, need_input = xs[k], ys[k], k > first
        d_out, d_in = y[0].numel(), x[0].numel()
        if kind == "diag":
            if need_input and _expands(rule, d_out, d_in, limit):
                kind, rows = ("scaled", d_out) if isinstance(rule, LinearRule) else ("factor", d_out)
                peak = max(peak, 0 if kind == "scaled" else d_out * d_in)
            continue
        if _should_compress(rows, d_out, _row_cost(rule, module, x, y, need_input)):
            peak = max(peak, rows * d_out + d_out * d_out)
            kind, rows = "factor", d_out
        if kind == "scaled" and (_is_passthrough(rule) or isinstance(rule, Elementwise)):
            continue
        if kind == "scaled" and isinstance(rule, LinearRule):  # (d * W2) and the product (by row chunks if a diagonal)
            peak = max(peak, d_out * d_in + (rows * d_in if d_in <= limit else 0))
        else:
            peak = max(peak, rows * (d_out + (d_in if d_in <= limit else 0)))
        if not need_input:
            break
        kind = "factor" if d_in <= limit else "diag"
    return peak


def _auto_chunk(layers, x: Tensor, outputs: list[Tensor], mode: str, limit: float, first: int) -> int:
    if mode == "approx":
        return x.shape[0]
    per_sample = _plan_peak_elements(layers, [x, *outputs[:-1]], outputs, first, limit) * x.element_size()
    return max(1, min(x.shape[0], FACTOR_BUDGET_BYTES // max(1, per_sample)))


@torch.no_grad()
def _forward(layers, x: Tensor) -> tuple[list[Tensor], list]:
    outputs, ctxs, h = [], [], x
    for _, module, rule in layers:
        h, ctx = rule.forward(module, h)
        outputs.append(h)
        ctxs.append(ctx)
    return outputs, ctxs


def diag_ggn(model: nn.Module, x: Tensor, mode: str = "exact", *, threshold: float = DEFAULT_THRESHOLD,
             precision: float = 1.0, target: Tensor | None = None, chunk_size: int | None = None,
             activations: record_activations | None = None) -> list[Tensor]:
    """Diagonal of precision * sum_n J_n^T J_n, the GGN of the Gaussian reconstruction loss (Alg. 1).

    Args:
        model: an `nn.Sequential` (possibly nested) of supported layers, see `SUPPORTED_LAYERS`.
        x: input batch `[B, ...]`; its device and dtype are used for the computation.
        mode: "exact" (exact M; cost grows with the output size times the feature sizes), "approx" (only
            diag(M), E.4.1, about one backward pass) or "mix" (exact where a layer's features have at most
            `threshold` entries per sample, diagonal elsewhere; see the module docstring).
        threshold: feature-size switch of mode "mix" (inf: same as "exact", 0: same as "approx"); the
            default 1024 is exact on the paper conv AE's bottleneck block at about the cost of "approx".
        precision: likelihood precision 1/sigma^2; the output Hessian is precision * I.
        target: optional reconstruction target; the Gaussian GGN does not depend on it, only its shape
            is checked against the output.
        chunk_size: samples per backward chunk; None picks a size that bounds the factors' memory.
        activations: a `record_activations` of a forward of `model`'s layers on `x` (same weights): used
            instead of running a forward here.
    Returns:
        One tensor per `model.parameters()` entry, same shape and dtype, summed over the batch.
    Raises:
        NotImplementedError, ValueError: see `check_supported`; ValueError for bad mode or options.
    """
    _validate(x, mode, threshold, precision, chunk_size)
    layers = check_supported(model)
    params = list(model.parameters())
    outputs = ctxs = None
    if activations is not None:
        outputs = list(activations.outputs)  # copies: the backward releases their entries as it goes
        ctxs = list(activations.ctxs)
        if len(outputs) != len(layers) or any(len(o) != len(x) for o in outputs):
            raise ValueError(f"activations must hold one output per layer ({len(layers)}) for the batch of "
                             f"{len(x)}; got {len(outputs)} recorded outputs. Record exactly one forward on x.")
    first = next((k for k, (_, module, rule) in enumerate(layers)
                  if rule.has_params and any(True for _ in module.parameters())), None)
    acc: dict[int, Tensor] = {}
    if first is not None:
        if outputs is None:
            outputs, ctxs = _forward(layers, x)
        if target is not None and target.shape != outputs[-1].shape:
            raise ValueError(f"target must have the output's shape {tuple(outputs[-1].shape)}. "
                             f"Got {tuple(target.shape)}.")
        limit = math.inf if mode == "exact" else (threshold if mode == "mix" else -1)
        chunk = chunk_size or _auto_chunk(layers, x, outputs, mode, limit, first)
        if chunk >= len(x):
            _backward(layers, x, outputs, ctxs, limit, float(precision), first, acc)
        else:
            for start in range(0, len(x), chunk):
                part = slice(start, start + chunk)
                _backward(layers, x[part], [o[part] for o in outputs],
                          [c if c is None else c[part] for c in ctxs], limit, float(precision), first, acc)
        del outputs, ctxs
    result = []
    for p in params:
        g = acc.get(id(p))
        result.append(torch.zeros(p.shape, dtype=p.dtype, device=p.device) if g is None
                      else g.reshape(p.shape).to(p.dtype).contiguous())
    return result


@torch.no_grad()
def _backward(layers, x: Tensor, outputs: list[Tensor], ctxs: list, limit: float, precision: float, first: int,
              acc: dict) -> None:
    state = Diag(torch.full_like(outputs[-1], precision))
    for k in range(len(layers) - 1, first - 1, -1):
        _, module, rule = layers[k]
        xk = outputs[k - 1] if k > 0 else x
        params, state = _step(state, rule, module, xk, outputs[k], ctxs[k], k > first, limit)
        for name, diag in params.items():
            key = id(getattr(module, name))
            acc[key] = diag if key not in acc else acc[key].add_(diag)
        outputs[k], ctxs[k] = None, None  # free as we go (the lists are the caller's per-chunk copies)
