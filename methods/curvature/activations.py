"""GGN rules for elementwise activations: one `Elementwise` rule built from the first derivative.

For the GGN only f' matters: J = diag(f'(x)), so M'[n,i,j] = f'(x_i) M[n,i,j] f'(x_j) and, for the
diagonal, m' = f'(x)^2 m. `ACTIVATION_RULES` maps each type to its derivative `(module, x, y) -> f'`;
adding an activation is one line there. Identity and Dropout (identity Jacobians) live in reshape.py.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Rule


class Elementwise(Rule):
    def __init__(self, derivative):
        self.derivative = derivative

    def forward(self, module, x):
        # In-place activations would overwrite the stored output of the previous layer.
        return module(x.clone() if getattr(module, "inplace", False) else x)

    def vjp(self, module, x, y, v):
        return v * self.derivative(module, x, y).unsqueeze(1)

    def diag_backprop(self, module, x, y, m):
        return m * self.derivative(module, x, y).square()

    def full_backprop(self, module, x, y, M):
        d = self.derivative(module, x, y).flatten(1)
        # In place: the engine owns M and replaces it by the result, so no second [B, D, D] buffer.
        return M.mul_(d.unsqueeze(2)).mul_(d.unsqueeze(1))


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


ACTIVATION_RULES = {
    nn.Tanh: Elementwise(lambda mod, x, y: 1 - y.square()),
    nn.Sigmoid: Elementwise(lambda mod, x, y: y * (1 - y)),
    nn.ReLU: Elementwise(lambda mod, x, y: (x > 0).to(x.dtype)),
    nn.LeakyReLU: Elementwise(lambda mod, x, y: torch.where(x > 0, 1.0, mod.negative_slope).to(x.dtype)),
    nn.ELU: Elementwise(lambda mod, x, y: torch.where(x > 0, torch.ones_like(x), mod.alpha * torch.exp(x))),
    nn.Softplus: Elementwise(_softplus),
    nn.SiLU: Elementwise(_silu),
    nn.GELU: Elementwise(_gelu),
}
