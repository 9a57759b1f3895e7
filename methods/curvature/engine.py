"""The rule table, the model walk and Algorithm 1 (appendix E.4) with the diagonal variant of E.4.1.

`SUPPORTED_LAYERS` maps `type(module)` to its rule; `check_supported(model)` flattens nested
`nn.Sequential`s and validates every leaf before any computation; `diag_ggn(model, x, mode)` runs one
stored forward pass and backpropagates M (full `[B, D, D]` or diagonal `[B, *feature]`) to the input.
Returns one tensor per `model.parameters()` entry, summed over the batch.
"""
from __future__ import annotations

import math
from numbers import Real

import torch
from torch import Tensor, nn

from .activations import ACTIVATION_RULES
from .base import Rule
from .conv import Conv2dRule, ConvTranspose2dRule
from .linear import LinearRule
from .pooling import AvgPool2dRule, MaxPool2dRule, UpsampleNearestRule
from .reshape import RESHAPE_RULES

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
# Auto chunking keeps one full M per chunk (plus two same-sized temporaries) under this many bytes.
FULL_M_BUDGET_BYTES = 1 << 30


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


def _auto_chunk(layers, x: Tensor, mode: str, threshold: float) -> int:
    if mode == "approx":
        return x.shape[0]
    with torch.no_grad():
        h, sizes = x[:1], [x[0].numel()]
        for _, module, rule in layers:
            h = rule.forward(module, h)
            sizes.append(h[0].numel())
    if mode == "mix":
        sizes = [d for d in sizes if d <= threshold] or [1]
    per_sample = 3 * max(sizes) ** 2 * x.element_size()
    return max(1, min(x.shape[0], FULL_M_BUDGET_BYTES // per_sample))


def diag_ggn(model: nn.Module, x: Tensor, mode: str = "exact", *, threshold: float = 4096,
             precision: float = 1.0, target: Tensor | None = None, chunk_size: int | None = None) -> list[Tensor]:
    """Diagonal of precision * sum_n J_n^T J_n, the GGN of the Gaussian reconstruction loss (Alg. 1).

    Args:
        model: an `nn.Sequential` (possibly nested) of supported layers, see `SUPPORTED_LAYERS`.
        x: input batch `[B, ...]`; its device and dtype are used for the computation.
        mode: "exact" (full per-sample M, quadratic memory), "approx" (only diag(M), E.4.1, linear cost)
            or "mix" (full M where a feature map has at most `threshold` entries per sample, else diagonal;
            a diagonal M entering a Linear layer with a small input is expanded exactly, W^T diag(m) W).
        threshold: feature-size switch of mode "mix" (inf: same as "exact", 0: same as "approx").
        precision: likelihood precision 1/sigma^2; the output Hessian is precision * I.
        target: optional reconstruction target; the Gaussian GGN does not depend on it, only its shape
            is checked against the output.
        chunk_size: samples per forward/backward chunk; None picks a size that bounds full-M memory.
    Returns:
        One tensor per `model.parameters()` entry, same shape and dtype, summed over the batch.
    Raises:
        NotImplementedError, ValueError: see `check_supported`; ValueError for bad mode or options.
    """
    _validate(x, mode, threshold, precision, chunk_size)
    layers = check_supported(model)
    params = list(model.parameters())
    acc = {id(p): torch.zeros(p.shape, dtype=x.dtype, device=p.device) for p in params}
    chunk = chunk_size or _auto_chunk(layers, x, mode, threshold)
    for i, xc in enumerate(x.split(chunk)):
        tc = None if target is None else target[i * chunk:(i + 1) * chunk]
        _backward(layers, xc, mode, threshold, float(precision), acc, tc)
    return [acc[id(p)].to(p.dtype) for p in params]


def _to_representation(M: Tensor, full: bool, y: Tensor, want_full: bool) -> Tensor:
    if want_full and not full:
        return torch.diag_embed(M.flatten(1))
    if full and not want_full:
        return M.diagonal(dim1=1, dim2=2).reshape(y.shape)
    return M


@torch.no_grad()
def _backward(layers, x: Tensor, mode: str, threshold: float, precision: float, acc: dict,
              target: Tensor | None) -> None:
    acts = [x]
    for _, module, rule in layers:
        acts.append(rule.forward(module, acts[-1]))
    out = acts[-1]
    if target is not None and target.shape != out.shape:
        raise ValueError(f"target must have the output's shape {tuple(out.shape)}. Got {tuple(target.shape)}.")
    full = mode == "exact"
    if full:
        d = out[0].numel()
        M = torch.eye(d, dtype=out.dtype, device=out.device).mul_(precision).expand(out.shape[0], d, d).clone()
    else:
        M = torch.full_like(out, precision)
    limit = math.inf if mode == "exact" else (threshold if mode == "mix" else -1)
    for k in range(len(layers) - 1, -1, -1):
        _, module, rule = layers[k]
        xk, yk = acts[k], acts[k + 1]
        want_full = yk[0].numel() <= limit
        M, full = _to_representation(M, full, yk, want_full), want_full
        if rule.has_params:
            for name, diag in rule.param_diag(module, xk, yk, M, full).items():
                acc[id(getattr(module, name))] += diag
        if k > 0:
            if full:
                M = rule.full_backprop(module, xk, yk, M)
            else:
                expanded = rule.full_from_diag(module, xk, yk, M) if xk[0].numel() <= limit else None
                M, full = (expanded, True) if expanded is not None else (rule.diag_backprop(module, xk, yk, M), False)
        acts[k + 1] = None
