"""Algorithm 1 (appendix E.4) with the diagonal variant of E.4.1: the backward loop over the rule table.

`diag_ggn(model, x, mode)` walks the layers (`table.check_supported`), runs one stored forward pass (or reuses
one recorded by `record_activations`) and backpropagates M, the GGN of the loss w.r.t. each layer's output,
from the output down to the first layer with parameters. Returns one tensor per `model.parameters()` entry,
summed over the batch. At each layer the rule decides what happens (`Rule.decide` -> a `Step`); `_step` carries
the step out and `planner.plan_steps` runs the same decisions on shapes alone to size the batch chunks.

How M is held (per sample; factors.py):
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
bottleneck, approximate where feature maps are large) keeps M exact where the layer's features have at most
`threshold` entries per sample: the diagonal M entering a layer whose input and output are both small (or a
Linear layer with a small input) is expanded exactly; an exact M entering a layer with a large input leaves it
as the exact diagonal of J^T M J (column sums of (L A)^2 from the factor in row chunks, never a [D_in, D_in]
matrix); from there on M is diagonal until the next small region. `threshold=inf` is "exact", 0 "approx".

Default threshold (1024): on the paper's conv AE (1x28x28, hidden 2048/1024, latent 2) M enters the 1024-2-1024
bottleneck block as the (approximate) diagonal at the decoder's 2048-wide features, is propagated exactly through
the block and leaves it as the exact diagonal at the encoder's 2048-wide features; the conv and 2048/3136-wide
layers use the approximate diagonal (the output layer sees the exact precision * I). It costs about as much as
"approx" (the 2048 -> 1024 expansion stays lazy, no factor larger than [B, 2048, 2]); a threshold >= 2048 would
push a 3136-row factor through 2048->1024 (~6.6 G multiply-adds per sample: the exact M at the 1024 features).
On the MLP AE (784-512-256-2) every feature map is <= 1024: "mix" is "exact" there (as the paper's linear layers).
Memory: at most about R x D entries per sample for the factor, bounded by splitting the batch into chunks
(`FACTOR_BUDGET_BYTES`) sized from the entries each planned `Step` declares; `diag_ggn(..., stats={})`
reports the plan next to the factor entries each step really held (the tests check one against the other).
"""

from __future__ import annotations

import math
from numbers import Real

import torch
from torch import Tensor, nn

from methods.curvature.planner import auto_chunk, plan_steps

from .base import Rule
from .factors import Diag, Factor, Scaled
from .table import check_supported, record_activations

MODES = ("exact", "approx", "mix")
DEFAULT_THRESHOLD = 1024


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


def _compress(L: Tensor) -> Tensor:
    """A [B, D, D] factor R with R^T R = L^T L (QR of L), for L: [B, R, D] with R > D."""
    return torch.linalg.qr(L, mode="r")[1]


def _held(*tensors: Tensor | None) -> int:
    """Per-sample entries of the distinct factor tensors given (the quantity `Step.elements` plans)."""
    seen = {t.data_ptr(): t[0].numel() for t in tensors if t is not None}
    return sum(seen.values())


# ----------------------------------------------------------------------------- one layer of the backward pass
def _step(
    state, rule: Rule, module, x, y, ctx, need_input: bool, limit: float, held: list | None = None
):
    """(parameter diagonals, M at the layer input) from M at the layer output, as `rule.decide` says.

    `held`, if a list, gets `(step, entries)`: the step taken and the per-sample entries of the factor
    tensors it actually held (to check the planner against).
    """
    step = rule.decide(state.kind, state.rows, module, x, y, need_input, limit)
    entries = 0
    if step.compress:
        L = state.factor()
        state = Factor(_compress(L))
        entries = _held(L, state.L)
    params, out, L = {}, None, None
    if step.action == "diag":
        params, m = rule.diag_step(module, x, y, ctx, state.m, need_input)
        out = Diag(m) if need_input else None
    elif step.action in ("expand", "expand_lazy"):
        params = rule.param_diag(module, x, y, ctx, state.m) if rule.has_params else {}
        out = (
            Scaled(state.m.sqrt(), rule.matrix(module))
            if step.action == "expand_lazy"
            else Factor(rule.expand_diag(module, x, y, ctx, state.m))
        )
    elif step.action in ("keep", "scale"):
        if step.action == "scale":
            state.scale_columns(rule.derivative(module, x, y).reshape(len(x), -1))
        out = state
    elif step.action == "product":
        params = rule.param_diag(module, x, y, ctx, state.diag())
        if step.out is not None:
            w = rule.matrix(module)
            out = Factor(state.times(w)) if step.out == "factor" else Diag(state.times_to_diag(w))
    else:  # "factor"
        L = state.factor()
        params = rule.param_diag_factor(module, x, y, ctx, L) if rule.has_params else {}
        if step.out is not None:
            out = (
                Factor(rule.factor_backprop(module, x, y, ctx, L))
                if step.out == "factor"
                else Diag(rule.factor_to_diag(module, x, y, ctx, L))
            )
    if held is not None:
        made = out.L if isinstance(out, Factor) and out is not state else None
        held.append((step, max(entries, _held(L, made))))
    return params, out


@torch.no_grad()
def _forward(layers, x: Tensor) -> tuple[list[Tensor], list]:
    outputs, ctxs, h = [], [], x
    for _, module, rule in layers:
        h, ctx = rule.forward(module, h)
        outputs.append(h)
        ctxs.append(ctx)
    return outputs, ctxs


def diag_ggn(
    model: nn.Module,
    x: Tensor,
    mode: str = "exact",
    *,
    threshold: float = DEFAULT_THRESHOLD,
    precision: float = 1.0,
    target: Tensor | None = None,
    chunk_size: int | None = None,
    activations: record_activations | None = None,
    stats: dict | None = None,
) -> list[Tensor]:
    """Diagonal of precision * sum_n J_n^T J_n, the GGN of the Gaussian reconstruction loss (Alg. 1): one tensor per
    `model.parameters()` entry, same shape and dtype, summed over the batch.

    `model`: an `nn.Sequential` (possibly nested) of `SUPPORTED_LAYERS`; `x`: the batch `[B, ...]` (its device
    and dtype are used). `mode`: "exact", "approx" (E.4.1, about one backward pass) or "mix" (exact where a
    layer's features have at most `threshold` entries per sample; inf: "exact", 0: "approx"; see the module
    docstring). `precision`: 1/sigma^2, the output Hessian is precision * I. `target`: only its shape is checked
    (the Gaussian GGN does not depend on it). `chunk_size`: samples per backward chunk (None: bounded memory).
    `activations`: a `record_activations` of a forward of `model` on `x`, used instead of a forward here.
    `stats`: a dict filled with the memory plan and what the backward did, per sample (`planned`, `taken`,
    `held`, `planned_peak_elements`, `measured_peak_elements`, `chunk_size`). Raises NotImplementedError or
    ValueError (`check_supported`; bad mode or options).
    """
    _validate(x, mode, threshold, precision, chunk_size)
    layers = check_supported(model)
    params = list(model.parameters())
    outputs, ctxs = _recorded(activations, layers, x)
    first = _first_with_params(layers)
    acc: dict[int, Tensor] = {}
    if first is not None:
        if outputs is None:
            outputs, ctxs = _forward(layers, x)
        if target is not None and target.shape != outputs[-1].shape:
            raise ValueError(
                f"target must have the output's shape {tuple(outputs[-1].shape)}. "
                f"Got {tuple(target.shape)}."
            )
        limit = math.inf if mode == "exact" else (threshold if mode == "mix" else -1)
        chunk = chunk_size or auto_chunk(layers, x, outputs, mode, limit, first)
        held = [] if stats is not None else None
        planned = (
            plan_steps(layers, [x, *outputs[:-1]], outputs, first, limit)
            if held is not None
            else None
        )
        _chunked_backward(
            layers, x, outputs, ctxs, limit, float(precision), first, acc, held, chunk
        )
        if stats is not None:
            stats.update(_plan_and_taken(planned, held, chunk))
        del outputs, ctxs
    return [_as_parameter(p, acc.get(id(p))) for p in params]


def _recorded(activations, layers, x: Tensor) -> tuple[list | None, list | None]:
    """Copies of a recorded forward's outputs and contexts (the backward releases entries as it goes)."""
    if activations is None:
        return None, None
    outputs, ctxs = list(activations.outputs), list(activations.ctxs)
    if len(outputs) != len(layers) or any(len(o) != len(x) for o in outputs):
        raise ValueError(
            f"activations must hold one output per layer ({len(layers)}) for the batch of "
            f"{len(x)}; got {len(outputs)} recorded outputs. Record exactly one forward on x."
        )
    return outputs, ctxs


def _first_with_params(layers) -> int | None:
    """Index of the first layer with parameters: the backward stops there."""
    return next(
        (
            k
            for k, (_, module, rule) in enumerate(layers)
            if rule.has_params and any(True for _ in module.parameters())
        ),
        None,
    )


def _chunked_backward(layers, x, outputs, ctxs, limit, precision, first, acc, held, chunk) -> None:
    """`_backward` over the batch in chunks of `chunk` samples, accumulating into `acc`."""
    if chunk >= len(x):
        _backward(layers, x, outputs, ctxs, limit, precision, first, acc, held)
        return
    for start in range(0, len(x), chunk):
        part = slice(start, start + chunk)
        _backward(
            layers,
            x[part],
            [o[part] for o in outputs],
            [c if c is None else c[part] for c in ctxs],
            limit,
            precision,
            first,
            acc,
            held,
        )


def _plan_and_taken(planned: list, held: list, chunk: int) -> dict:
    """`stats` of `diag_ggn`: the plan (made on shapes before the backward) next to the steps the first chunk
    really took."""
    return dict(
        planned=planned,
        taken=[s for s, _ in held[: len(planned)]],
        held=[n for _, n in held[: len(planned)]],
        chunk_size=chunk,
        planned_peak_elements=max(s.elements for s in planned),
        measured_peak_elements=max(n for _, n in held),
    )


def _as_parameter(p: Tensor, g: Tensor | None) -> Tensor:
    """The accumulated diagonal in `p`'s shape and dtype (zeros for a parameter the backward never reached)."""
    if g is None:
        return torch.zeros(p.shape, dtype=p.dtype, device=p.device)
    return g.reshape(p.shape).to(p.dtype).contiguous()


@torch.no_grad()
def _backward(
    layers,
    x: Tensor,
    outputs: list[Tensor],
    ctxs: list,
    limit: float,
    precision: float,
    first: int,
    acc: dict,
    held: list | None = None,
) -> None:
    state = Diag(torch.full_like(outputs[-1], precision))
    for k in range(len(layers) - 1, first - 1, -1):
        _, module, rule = layers[k]
        xk = outputs[k - 1] if k > 0 else x
        params, state = _step(state, rule, module, xk, outputs[k], ctxs[k], k > first, limit, held)
        for name, diag in params.items():
            key = id(getattr(module, name))
            acc[key] = diag if key not in acc else acc[key].add_(diag)
        outputs[k], ctxs[k] = (
            None,
            None,
        )  # free as we go (the lists are the caller's per-chunk copies)
