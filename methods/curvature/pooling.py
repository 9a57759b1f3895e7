"""GGN rules for resampling layers: `nn.MaxPool2d`, `nn.AvgPool2d`, nearest `nn.Upsample` (appendix E.4.1).

Max pooling routes each output to its argmax (a per-sample 0/1 Jacobian), so diagonal entries are
scatter-added to the argmax; average pooling is linear with one weight c(o) per output window, so
diag(A^T diag(m) A) = A^T (c * m); nearest upsampling by an integer factor sums each block. Inputs are
`[B, C, H, W]`. No parameters here.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .base import Rule, linear_vjp


class MaxPool2dRule(Rule):
    def check(self, module: nn.MaxPool2d, path: str) -> None:
        if module.return_indices:
            raise NotImplementedError(f"No Hessian rule for module '{path}' (MaxPool2d) with "
                                      "return_indices=True: its output is a tuple. Use return_indices=False.")

    def _indices(self, module, x: Tensor) -> Tensor:
        _, idx = F.max_pool2d(x, module.kernel_size, module.stride, module.padding, module.dilation,
                              module.ceil_mode, return_indices=True)
        return idx.flatten(2)  # [B, C, Ho*Wo], flat positions in H*W

    def vjp(self, module, x, y, v):
        b, k, c = v.shape[:3]
        idx = self._indices(module, x).unsqueeze(1).expand(b, k, c, -1)
        out = v.new_zeros(b, k, c, x.shape[2] * x.shape[3])
        return out.scatter_add_(3, idx, v.reshape(b, k, c, -1)).reshape(b, k, *x.shape[1:])

    def diag_backprop(self, module, x, y, m):
        return self.vjp(module, x, y, m.unsqueeze(1)).squeeze(1)


class AvgPool2dRule(Rule):
    def vjp(self, module, x, y, v):
        return linear_vjp(module, tuple(x.shape[1:]), v)

    def diag_backprop(self, module, x, y, m):
        # Row o of A is c(o) on the window's in-image positions: c = (A 1) / (window count).
        ones = x.new_ones(1, *x.shape[1:])
        count = F.avg_pool2d(ones, module.kernel_size, module.stride, module.padding, module.ceil_mode,
                             True, 1)
        c = module(ones) / count.clamp_min(1)
        return self.vjp(module, x, y, (m * c).unsqueeze(1)).squeeze(1)


class UpsampleNearestRule(Rule):
    def check(self, module: nn.Upsample, path: str) -> None:
        kind = type(module).__name__
        if module.mode not in ("nearest", "nearest-exact"):
            raise NotImplementedError(f"No Hessian rule for module '{path}' ({kind}) with mode='{module.mode}'. "
                                      "Supported: mode='nearest' with an integer scale factor.")
        if module.scale_factor is not None:
            factors = module.scale_factor if isinstance(module.scale_factor, tuple) else (module.scale_factor,)
            if any(float(f) != int(f) or f < 1 for f in factors):
                raise NotImplementedError(f"No Hessian rule for module '{path}' ({kind}) with "
                                          f"scale_factor={module.scale_factor}. Supported: integer factors.")

    def _factors(self, x: Tensor, y: Tensor) -> tuple[int, int]:
        if x.dim() != 4 or y.shape[2] % x.shape[2] or y.shape[3] % x.shape[3]:
            raise NotImplementedError(f"The nearest-Upsample rule supports [B, C, H, W] inputs and integer "
                                      f"scales; got {tuple(x.shape)} -> {tuple(y.shape)}.")
        return y.shape[2] // x.shape[2], y.shape[3] // x.shape[3]

    def vjp(self, module, x, y, v):
        sh, sw = self._factors(x, y)
        b, k, c, h, w = v.shape[0], v.shape[1], *x.shape[1:]
        return v.reshape(b, k, c, h, sh, w, sw).sum((4, 6))

    def diag_backprop(self, module, x, y, m):
        return self.vjp(module, x, y, m.unsqueeze(1)).squeeze(1)

