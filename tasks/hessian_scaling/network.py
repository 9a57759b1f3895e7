"""What one Fig. 7 point measures: the network, each backend's call on it, and that call's memory estimate.

`build_net(channels, depth=5)`: depth x [Conv2d(C, C, 3, padding=1), Tanh] on `[B, C, side, side]`, which keeps
channels and resolution, its output compared to the input. `POINTS`, the backends: exact / approx / mix
(`methods.curvature.diag_ggn`), backpack_diag_exact / backpack_kfac (BackPACK with MSELoss(sum)) and fwd_bwd
(one plain loss.backward(), the baseline); `check_point(method)`; `make_call(method, net, x, threshold)`, the
call that is timed; `estimate_bytes(method, side, ...)`, its rough peak memory (points over budget are skipped).
"""

from __future__ import annotations

from methods.curvature import MODES

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
    """Raises ValueError naming the backends when `method` is not one of `POINTS`."""
    if method not in POINTS:
        raise ValueError(f"Unknown method '{method}'. Available: {', '.join(POINTS)}.")


def make_call(method: str, net, x, threshold: int):
    """A call without arguments that runs `method` once on `net` and `x` (what a point times)."""
    import torch
    from torch import nn

    if method in MODES:
        from methods.curvature import diag_ggn

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
