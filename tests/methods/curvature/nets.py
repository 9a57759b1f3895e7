"""The tiny nets the curvature tests run on (`NETS`: name -> builder of (net, per-sample input shape)); together
they hold every supported layer type (test_table.py checks it). `make(name)` builds one in float64 and eval mode
with a random batch."""

from __future__ import annotations

import torch
from torch import nn


def conv_ae() -> tuple[nn.Module, tuple[int, ...]]:
    encoder = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1),
        nn.Tanh(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(3 * 4 * 4, 4),
    )
    decoder = nn.Sequential(
        nn.Linear(4, 3 * 4 * 4),
        nn.Tanh(),
        nn.Unflatten(1, (3, 4, 4)),
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(3, 2, 3, padding="same"),
        nn.Sigmoid(),
    )
    return nn.Sequential(encoder, decoder), (2, 8, 8)


def conv_transpose_net() -> tuple[nn.Module, tuple[int, ...]]:
    return nn.Sequential(
        nn.Conv2d(2, 3, 3, stride=2, padding=1, dilation=1),
        nn.ReLU(),
        nn.AvgPool2d(2, padding=1, count_include_pad=False),
        nn.LeakyReLU(0.1),
        nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1),
        nn.ELU(),
        nn.Identity(),
        nn.Dropout(0.3),
        nn.ConvTranspose2d(2, 2, 2, stride=2, bias=False),
        nn.Softplus(beta=2.0),
        nn.Conv2d(2, 2, 3, dilation=2, padding=2),
        nn.SiLU(),
        nn.AvgPool2d(3, stride=2, padding=1),
        nn.GELU(),
        nn.MaxPool2d(3, stride=1, padding=1),
    ), (2, 7, 7)


def mlp() -> tuple[nn.Module, tuple[int, ...]]:
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(12, 8),
        nn.Tanh(),
        nn.Linear(8, 3),
        nn.Tanh(),
        nn.Linear(3, 8),
        nn.Tanh(),
        nn.Linear(8, 12),
        nn.Unflatten(1, (3, 4)),
    ), (3, 4)


def nested() -> tuple[nn.Module, tuple[int, ...]]:
    inner = nn.Sequential(nn.Sequential(nn.Conv2d(1, 2, 2, stride=2), nn.Tanh()), nn.Flatten())
    return nn.Sequential(
        inner,
        nn.Sequential(
            nn.Linear(8, 5),
            nn.Sequential(nn.Sigmoid(), nn.Linear(5, 6), nn.GELU(approximate="tanh")),
        ),
    ), (1, 4, 4)


def small_output_conv_ae() -> tuple[nn.Module, tuple[int, ...]]:
    """The paper conv AE's shape in miniature: conv features (4x6x6 = 144) larger than the output (36) and the
    bottleneck; with threshold 40 a mix backward leaves an exact output region into a large conv input."""
    encoder = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.Tanh(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(36, 6),
        nn.Tanh(),
        nn.Linear(6, 2),
    )
    decoder = nn.Sequential(
        nn.Linear(2, 6),
        nn.Tanh(),
        nn.Linear(6, 36),
        nn.Tanh(),
        nn.Unflatten(1, (4, 3, 3)),
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(4, 1, 3, padding=1),
    )
    return nn.Sequential(encoder, decoder), (1, 6, 6)


def linear_chain() -> tuple[nn.Module, tuple[int, ...]]:
    """Linear layers back to back (no activation in between) and widths close to each other: exercises the
    lazy diag(sqrt(m)) W factor without column scaling and its direct reduction to a diagonal."""
    return nn.Sequential(
        nn.Linear(12, 5), nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 5), nn.Linear(5, 12)
    ), (12,)


NETS = {
    "conv_ae": conv_ae,
    "conv_transpose": conv_transpose_net,
    "mlp": mlp,
    "nested": nested,
    "small_output_conv_ae": small_output_conv_ae,
    "linear_chain": linear_chain,
}


def make(name: str, batch: int = 3, seed: int = 0):
    torch.manual_seed(seed)
    net, shape = NETS[name]()
    net = net.double().eval()
    return net, torch.randn(batch, *shape, dtype=torch.float64)
