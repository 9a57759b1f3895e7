"""GGN rules for `nn.Conv2d` and `nn.ConvTranspose2d` (appendix E.3, E.4.1), groups=1, zero padding.

Input Jacobians: a conv's adjoint is the transposed conv and vice versa; the diagonal propagation is the
same adjoint with the squared kernel (E.4.1), run as a forward conv with the flipped kernel for stride 1
(faster on CPU than torch's conv backward-data). With a diagonal M, out-channel c's weights see
sum_p m[c, p] U[j, p]^2 over the "patch matrix" U of the input: that is the weight gradient of the same
conv with input x^2 and output gradient m, one `aten.convolution_backward(m, x^2, ...)` call that also
returns the bias diagonal (m summed); no unfold.
With a factor L (M = L^T L), weight diagonal = sum_{n,r} (L_{n,r} U_n^T)^2, one batched matmul per row
chunk, U from unfold (Conv2d) or a one-hot transposed conv (ConvTranspose2d).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Rule, pair, row_chunks

_convolution_backward = torch.ops.aten.convolution_backward


def _padding(module: nn.Conv2d) -> tuple[int, int]:
    if not isinstance(module.padding, str):
        return pair(module.padding)
    if module.padding == "valid":
        return (0, 0)
    totals = [d * (k - 1) for d, k in zip(pair(module.dilation), pair(module.kernel_size))]
    return tuple(t // 2 for t in totals)


def _check_common(module, path: str) -> None:
    kind = type(module).__name__
    if module.groups != 1:
        raise NotImplementedError(
            f"No Hessian rule for module '{path}' ({kind}) with groups={module.groups}. "
            "Supported: groups=1. Add a rule in methods/curvature/conv.py."
        )
    if module.padding_mode != "zeros":
        raise NotImplementedError(
            f"No Hessian rule for module '{path}' ({kind}) with "
            f"padding_mode='{module.padding_mode}'. Supported: 'zeros'."
        )


def factor_patch_param_diag(L: Tensor, U: Tensor, c_out: int) -> tuple[Tensor, Tensor]:
    """Weight diagonal `[c_out, J]` and bias diagonal `[c_out]` for M = L^T L, `L: [B, R, c_out * P]`,
    patches `U: [B, J, P]`: sum_{n,r} (L_{n,r,c,:} U_n^T)^2 and sum_{n,r} (sum_p L_{n,r,c,p})^2."""
    b, r = L.shape[:2]
    j, p = U.shape[1:]
    ut = U.transpose(1, 2)  # [B, P, J]
    weight = L.new_zeros(c_out, j)
    for rows in row_chunks(b, r, c_out * max(j, p)):
        g = (
            L[:, rows].reshape(b, -1, p) @ ut
        )  # [B, n * c_out, J]: the weight Jacobian-vector products
        weight += g.square_().view(b, -1, c_out, j).sum((0, 1))
    bias = L.view(b, r, c_out, p).sum(-1).square().sum((0, 1))
    return weight, bias


class _ConvBase(Rule):
    has_params = True
    transposed = False

    def check(self, module, path: str) -> None:
        _check_common(module, path)

    def row_cost(self, module, x, y):
        spatial = (x if self.transposed else y)[0, 0].numel()
        return module.weight.numel() * spatial

    def _stride_padding(self, module):
        return list(pair(module.stride)), list(_padding(module)), list(pair(module.dilation))

    def param_diag(self, module, x, y, ctx, m):
        # The weight gradient of this conv for input x^2 and output gradient m (and m summed for the bias).
        stride, padding, dilation = self._stride_padding(module)
        output_padding = list(pair(module.output_padding)) if self.transposed else [0, 0]
        has_bias = module.bias is not None
        c_out = module.weight.shape[1 if self.transposed else 0]
        _, weight, bias = _convolution_backward(
            m,
            x.square(),
            module.weight,
            [c_out] if has_bias else None,
            stride,
            padding,
            dilation,
            self.transposed,
            output_padding,
            1,
            [False, True, has_bias],
        )
        return {"weight": weight, "bias": bias} if has_bias else {"weight": weight}

    def diag_backprop(self, module, x, y, ctx, m):
        return self._adjoint(module, x, module.weight.square(), m)

    def vjp(self, module, x, y, ctx, v):
        b, k = v.shape[:2]
        out = self._adjoint(module, x, module.weight, v.reshape(b * k, *v.shape[2:]))
        return out.reshape(b, k, *x.shape[1:])


class Conv2dRule(_ConvBase):
    def check(self, module: nn.Conv2d, path: str) -> None:
        _check_common(module, path)
        if module.padding == "same":
            for d, k in zip(pair(module.dilation), pair(module.kernel_size)):
                if d * (k - 1) % 2:
                    raise NotImplementedError(
                        f"No Hessian rule for module '{path}' (Conv2d) with asymmetric padding='same' "
                        f"(kernel {module.kernel_size}, dilation {module.dilation}). Use an odd kernel."
                    )

    def _adjoint(self, module, x, weight, v):
        """A^T v: the transposed conv; for stride 1 a conv with the flipped kernel (much faster on CPU)."""
        pad, dil, stride = _padding(module), pair(module.dilation), pair(module.stride)
        ks = weight.shape[2:]
        full_pad = tuple(d * (k - 1) - p for d, k, p in zip(dil, ks, pad))
        if stride == (1, 1) and min(full_pad) >= 0:
            return F.conv2d(v, weight.transpose(0, 1).flip(2, 3), None, 1, full_pad, dil)
        out_pad = tuple(
            h - ((o - 1) * s - 2 * p + d * (k - 1) + 1)
            for h, o, s, p, d, k in zip(x.shape[2:], v.shape[2:], stride, pad, dil, ks)
        )
        return F.conv_transpose2d(v, weight, None, stride, pad, out_pad, 1, dil)

    def param_diag_factor(self, module, x, y, ctx, L):
        U = F.unfold(x, module.kernel_size, module.dilation, _padding(module), module.stride)
        weight, bias = factor_patch_param_diag(L, U, module.out_channels)
        out = {"weight": weight.reshape(module.weight.shape)}
        if module.bias is not None:
            out["bias"] = bias
        return out


class ConvTranspose2dRule(_ConvBase):
    transposed = True

    def _stride_padding(self, module):
        return list(pair(module.stride)), list(pair(module.padding)), list(pair(module.dilation))

    def _adjoint(self, module, x, weight, v):
        out = F.conv2d(
            v, weight, None, module.stride, module.padding, module.dilation, module.groups
        )
        # With output_padding >= stride the conv sees extra rows that map to no input position.
        return out[..., : x.shape[2], : x.shape[3]]

    def _patches(self, module, x: Tensor) -> Tensor:
        # d y[c_out, q] / d w[c_in, c_out, k] = x[c_in, p] where q is where tap k of input p lands:
        # a transposed conv of x with one-hot kernels, one output channel per (c_in, k).
        c_in, kh, kw = x.shape[1], *pair(module.kernel_size)
        onehot = torch.eye(kh * kw, dtype=x.dtype, device=x.device).view(1, kh * kw, kh, kw)
        U = F.conv_transpose2d(
            x,
            onehot.expand(c_in, -1, -1, -1),
            None,
            module.stride,
            module.padding,
            module.output_padding,
            c_in,
            module.dilation,
        )
        return U.reshape(x.shape[0], c_in * kh * kw, -1)

    def param_diag_factor(self, module, x, y, ctx, L):
        U = self._patches(module, x)
        weight, bias = factor_patch_param_diag(L, U, module.out_channels)
        c_in, c_out, kh, kw = module.weight.shape
        out = {"weight": weight.reshape(c_out, c_in, kh, kw).transpose(0, 1)}
        if module.bias is not None:
            out["bias"] = bias
        return out
