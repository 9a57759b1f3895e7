"""The rules of layers that do not change values (reshape.py): Dropout in training mode is refused, with p=0 or in
eval mode it is the identity."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from methods.curvature import diag_ggn
from tests.methods.curvature.reference import brute_force, rel_err


def test_dropout_in_training_mode():
    net = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5)).double()
    x = torch.randn(2, 3, dtype=torch.float64)
    with pytest.raises(
        ValueError, match=r"'1' \(Dropout\) is in training mode with p=0.5.*model.eval\(\)"
    ):
        diag_ggn(net.train(), x)
    p0 = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.0)).double().train()
    assert rel_err(diag_ggn(p0, x), brute_force(p0.eval(), x)) < 1e-10
    assert rel_err(diag_ggn(net.eval(), x), brute_force(net, x)) < 1e-10
