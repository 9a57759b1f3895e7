"""The Linear rule (linear.py): with only elementwise layers above it, M at a Linear layer's output stays
diagonal, so "approx" is exact there."""

from __future__ import annotations

import torch
from torch import nn

from methods.curvature import diag_ggn
from tests.methods.curvature.reference import brute_force, rel_err


def test_approx_is_exact_while_M_stays_diagonal():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Sigmoid()).double()
    x = torch.randn(3, 6, dtype=torch.float64)
    assert rel_err(diag_ggn(net, x, "approx"), brute_force(net, x)) < 1e-10
