"""The Conv2d and ConvTranspose2d rules (conv.py): with only elementwise layers above it, M at a convolution's
output stays diagonal, so "approx" is exact there."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from methods.curvature import diag_ggn
from tests.methods.curvature.reference import brute_force, rel_err


@pytest.mark.parametrize(
    "build",
    [
        lambda: nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, stride=2), nn.Tanh(), nn.Softplus()),
        lambda: nn.Sequential(nn.ConvTranspose2d(2, 3, 3, stride=2), nn.ELU()),
    ],
    ids=["conv", "conv_transpose"],
)
def test_approx_is_exact_while_M_stays_diagonal(build):
    torch.manual_seed(1)
    net = build().double()
    x = torch.randn(3, 2, 5, 5, dtype=torch.float64)
    assert rel_err(diag_ggn(net, x, "approx"), brute_force(net, x)) < 1e-10
