"""GGN rules for elementwise activations: one `Elementwise` rule built from the first derivative.

For the GGN only f' matters: J = diag(f'(x)), so a factor's rows are scaled, L' = L diag(f'(x)), and a
diagonal becomes m' = f'(x)^2 m (exact: an elementwise map keeps a diagonal M diagonal). `ACTIVATION_RULES`
maps each type to its derivative `(module, x, y) -> f'`; adding an activation is one line there. Tanh and
Sigmoid also get a fused m f'^2 from torch's own backward kernels (no temporaries). Identity and Dropout
(identity Jacobians) live in reshape.py.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Rule


class Elementwise(Rule):
    diag_preserving = True
    lazy = "scale"  # a lazy factor's columns are scaled by `derivative`

    def __init__(self, derivative, scale_by_square=None):
        self.derivative = derivative
        self._scale_by_square = scale_by_square  # optional fused (m, x, y) -> m * f'(x)^2

    def forward(self, module, x):
        # In-place activations would overwrite the stored output of the previous layer.
        return module(x.clone() if getattr(module, "inplace", False) else x), None

    def row_cost(self, module, x, y):
        return x[0].numel()

    def vjp(self, module, x, y, ctx, v):
        return v * self.derivative(module, x, y).unsqueeze(1)

    def diag_backprop(self, module, x, y, ctx, m):
        if self._scale_by_square is not None:
            return self._scale_by_square(m, x, y)
        d = self.derivative(module, x, y)
        return m.mul_(d).mul_(d)  # the engine owns m

    def factor_backprop(self, module, x, y, ctx, L):
        # In place: the engine owns L and replaces it by the result, so no second [B, R, D] buffer.
        return L.mul_(self.derivative(module, x, y).reshape(len(x), 1, -1))


def _softplus(module: nn.Softplus, x: Tensor, y: Tensor) -> Tensor:
    bx = module.beta * x
    return torch.where(bx > module.threshold, torch.ones_like(x), torch.sigmoid(bx))


def _silu(module, x, y):
    s = torch.sigmoid(x)
    return s * (1 + x * (1 - s))


def _gelu(module: nn.GELU, x, y):
    if module.approximate == "tanh":
        c = (2 / torch.pi) ** 0.5
        t = torch.tanh(c * (x + 0.044715 * x**3))
        return 0.5 * (1 + t) + 0.5 * x * (1 - t.square()) * c * (1 + 3 * 0.044715 * x.square())
    return torch.special.ndtr(x) + x * torch.exp(-0.5 * x.square()) / (2 * torch.pi) ** 0.5


_tanh_backward = torch.ops.aten.tanh_backward
_sigmoid_backward = torch.ops.aten.sigmoid_backward

ACTIVATION_RULES = {
    nn.Tanh: Elementwise(
        lambda mod, x, y: 1 - y.square(), lambda m, x, y: _tanh_backward(_tanh_backward(m, y), y)
    ),
    nn.Sigmoid: Elementwise(
        lambda mod, x, y: y * (1 - y), lambda m, x, y: _sigmoid_backward(_sigmoid_backward(m, y), y)
    ),
    nn.ReLU: Elementwise(
        lambda mod, x, y: (x > 0).to(x.dtype), lambda m, x, y: m.masked_fill_(x <= 0, 0)
    ),
    nn.LeakyReLU: Elementwise(
        lambda mod, x, y: torch.where(x > 0, 1.0, mod.negative_slope).to(x.dtype)
    ),
    nn.ELU: Elementwise(
        lambda mod, x, y: torch.where(x > 0, torch.ones_like(x), mod.alpha * torch.exp(x))
    ),
    nn.Softplus: Elementwise(_softplus),
    nn.SiLU: Elementwise(_silu),
    nn.GELU: Elementwise(_gelu),
}
