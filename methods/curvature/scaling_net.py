"""The network and the calls the scaling measurements time (Fig. 7): a conv net that keeps channels and
resolution, each backend's call, and its memory estimate."""

from __future__ import annotations

from .engine import MODES

POINTS = (*MODES, "backpack_diag_exact", "backpack_kfac", "fwd_bwd")
# Peak bytes per [B, D, D] float32 matrix, calibrated on CPU at sides 32 and 64 (exact keeps a factor L of M
# at a layer's input and output, ~2.1x at side 64 plus fixed chunk buffers, 4.5x at side 32; BackPACK's
# DiagGGNExact keeps its [D, B, ...] square-root factors of every layer, 11x at side 64).
QUADRATIC = {"exact": 3, "backpack_diag_exact": 12}


def build_net(channels: int = 3, depth: int = 5):
    from torch import nn

    return nn.Sequential(
        *[m for _ in range(depth) for m in (nn.Conv2d(channels, channels, 3, padding=1), nn.Tanh())]
    )


def estimate_bytes(
    method: str,
    side: int,
    *,
    batch_size: int = 1,
    channels: int = 3,
    threshold: int = 4096,
    itemsize: int = 4,
) -> int:
    """Rough peak memory of one point (linear methods: a few dozen feature maps)."""
    d = channels * side * side
    if method in QUADRATIC or (method == "mix" and d <= threshold):
        return QUADRATIC.get(method, QUADRATIC["exact"]) * batch_size * d * d * itemsize
    return 60 * batch_size * d * itemsize


def check_point(method: str) -> None:
    if method not in POINTS:
        raise ValueError(f"Unknown method '{method}'. Available: {', '.join(POINTS)}.")


def _make_call(method: str, net, x, threshold: int):
    import torch
    from torch import nn

    if method in MODES:
        from .engine import diag_ggn

        return lambda: diag_ggn(net, x, method, threshold=threshold)
    if method == "fwd_bwd":

        def fwd_bwd():
            net.zero_grad(set_to_none=True)
            (0.5 * (net(x) - x).square().sum()).backward()

        return fwd_bwd
    import backpack
    from backpack.extensions import KFAC, DiagGGNExact

    net = backpack.extend(nn.Sequential(*net, nn.Flatten()))  # BackPACK's MSELoss takes [B, D] only
    target = x.flatten(1)
    loss_fn = backpack.extend(nn.MSELoss(reduction="sum"))
    extension = DiagGGNExact() if method == "backpack_diag_exact" else KFAC(mc_samples=1)

    def call():
        net.zero_grad(set_to_none=True)
        with backpack.backpack(extension):
            loss_fn(net(x), target).backward()

    torch.manual_seed(0)  # KFAC draws Monte-Carlo samples
    return call
