"""GGN rules for resampling layers: `nn.MaxPool2d`, `nn.AvgPool2d`, nearest `nn.Upsample` (appendix E.4.1).

Max pooling routes each output to its argmax (a per-sample 0/1 Jacobian, one nonzero per row), so a
diagonal M stays diagonal and its entries are scatter-added to the argmax (torch's own max-pool backward,
with the indices saved by the engine's forward); average pooling is linear with one weight c(o) per output
window, so diag(A^T diag(m) A) = A^T (c * m); nearest upsampling by an integer factor sums each block (one
nonzero per row again). Inputs are `[B, C, H, W]`. No parameters here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Rule, linear_vjp, pair

_upsample_nearest2d_backward = torch.ops.aten.upsample_nearest2d_backward


class MaxPool2dRule(Rule):
    diag_preserving = True

    def check(self, module: nn.MaxPool2d, path: str) -> None:
        if module.return_indices:
            raise NotImplementedError(
                f"No Hessian rule for module '{path}' (MaxPool2d) with "
                "return_indices=True: its output is a tuple. Use return_indices=False."
            )

    def forward(self, module, x):
        return F.max_pool2d(
            x,
            module.kernel_size,
            module.stride,
            module.padding,
            module.dilation,
            module.ceil_mode,
            return_indices=True,
        )

    def recorded_ctx(self, module, output: Tensor):
        # A grad-enabled forward saved the indices for its own backward (autograd's documented saved
        # tensors, `grad_fn._saved_result1`): reuse them instead of pooling again.
        fn = output.grad_fn
        return fn._saved_result1 if type(fn).__name__ == "MaxPool2DWithIndicesBackward0" else None

    def _indices(self, module, x: Tensor, ctx) -> Tensor:
        """[B, C, Ho, Wo] flat positions in H*W: saved by `forward`, recomputed for recorded activations."""
        return ctx if ctx is not None else self.forward(module, x)[1]

    def vjp(self, module, x, y, ctx, v):
        b, k, c = v.shape[:3]
        idx = self._indices(module, x, ctx).flatten(2).unsqueeze(1).expand(b, k, c, -1)
        out = v.new_zeros(b, k, c, x.shape[2] * x.shape[3])
        return out.scatter_add_(3, idx, v.reshape(b, k, c, -1)).reshape(b, k, *x.shape[1:])

    def diag_backprop(self, module, x, y, ctx, m):
        stride = module.stride if module.stride is not None else module.kernel_size
        return torch.ops.aten.max_pool2d_with_indices_backward(
            m,
            x,
            list(pair(module.kernel_size)),
            list(pair(stride)),
            list(pair(module.padding)),
            list(pair(module.dilation)),
            module.ceil_mode,
            self._indices(module, x, ctx),
        )


class AvgPool2dRule(Rule):
    def vjp(self, module, x, y, ctx, v):
        return linear_vjp(module, tuple(x.shape[1:]), v)

    def diag_backprop(self, module, x, y, ctx, m):
        # Row o of A is c(o) on the window's in-image positions: c = (A 1) / (window count).
        ones = x.new_ones(1, *x.shape[1:])
        count = F.avg_pool2d(
            ones, module.kernel_size, module.stride, module.padding, module.ceil_mode, True, 1
        )
        c = module(ones) / count.clamp_min(1)
        return self.vjp(module, x, y, ctx, (m * c).unsqueeze(1)).squeeze(1)


class UpsampleNearestRule(Rule):
    diag_preserving = True

    def check(self, module: nn.Upsample, path: str) -> None:
        kind = type(module).__name__
        if module.mode not in ("nearest", "nearest-exact"):
            raise NotImplementedError(
                f"No Hessian rule for module '{path}' ({kind}) with mode='{module.mode}'. "
                "Supported: mode='nearest' with an integer scale factor."
            )
        if module.scale_factor is not None:
            factors = (
                module.scale_factor
                if isinstance(module.scale_factor, tuple)
                else (module.scale_factor,)
            )
            if any(float(f) != int(f) or f < 1 for f in factors):
                raise NotImplementedError(
                    f"No Hessian rule for module '{path}' ({kind}) with "
                    f"scale_factor={module.scale_factor}. Supported: integer factors."
                )

    def _factors(self, x: Tensor, y: Tensor) -> tuple[int, int]:
        if x.dim() != 4 or y.shape[2] % x.shape[2] or y.shape[3] % x.shape[3]:
            raise NotImplementedError(
                f"The nearest-Upsample rule supports [B, C, H, W] inputs and integer "
                f"scales; got {tuple(x.shape)} -> {tuple(y.shape)}."
            )
        return y.shape[2] // x.shape[2], y.shape[3] // x.shape[3]

    def vjp(self, module, x, y, ctx, v):
        self._factors(x, y)
        b, k = v.shape[:2]
        out = _upsample_nearest2d_backward(
            v.reshape(b * k, *v.shape[2:]), list(y.shape[2:]), [b * k, *x.shape[1:]], None, None
        )  # block sums
        return out.view(b, k, *x.shape[1:])

    def diag_backprop(self, module, x, y, ctx, m):
        self._factors(x, y)
        return _upsample_nearest2d_backward(m, list(y.shape[2:]), list(x.shape), None, None)
