"""GGN rules for `nn.Conv2d` and `nn.ConvTranspose2d` (appendix E.3, E.4.1), groups=1, zero padding.

Input Jacobians: a conv's adjoint is the transposed conv and vice versa; the diagonal propagation is the
same adjoint with the squared kernel (E.4.1). Weight Jacobians are "patch matrices" U `[B, Cin*kh*kw, P]`
(unfold for Conv2d, a one-hot transposed conv for ConvTranspose2d): out-channel c's weights see
sum_{p,q} M[(c,p),(c,q)] U[j,p] U[j,q], or sum_p M[(c,p),(c,p)] U[j,p]^2 when only diag(M) is kept.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Rule, pair


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
        raise NotImplementedError(f"No Hessian rule for module '{path}' ({kind}) with groups={module.groups}. "
                                  "Supported: groups=1. Add a rule in methods/curvature/conv.py.")
    if module.padding_mode != "zeros":
        raise NotImplementedError(f"No Hessian rule for module '{path}' ({kind}) with "
                                  f"padding_mode='{module.padding_mode}'. Supported: 'zeros'.")


def patch_param_diag(M: Tensor, full: bool, U: Tensor, c_out: int) -> tuple[Tensor, Tensor]:
    """Weight diagonal `[c_out, J]` and bias diagonal `[c_out]` from M and patches U `[B, J, P]`."""
    b, _, p = U.shape
    if full:
        # Only the channel-diagonal blocks M[(c, .), (c, .)] touch weights of out-channel c.
        mc = M.view(b, c_out, p, c_out, p).diagonal(dim1=1, dim2=3).permute(0, 3, 1, 2)  # [B, C, P, P]
        ut = U.transpose(1, 2).unsqueeze(1)  # [B, 1, P, J]
        weight = ((mc @ ut) * ut).sum((0, 2))
        bias = mc.sum((0, 2, 3))
    else:
        m = M.reshape(b, c_out, p)
        weight = torch.einsum("bcp,bjp->cj", m, U.square())
        bias = m.sum((0, 2))
    return weight, bias


class Conv2dRule(Rule):
    has_params = True

    def check(self, module: nn.Conv2d, path: str) -> None:
        _check_common(module, path)
        if module.padding == "same":
            for d, k in zip(pair(module.dilation), pair(module.kernel_size)):
                if d * (k - 1) % 2:
                    raise NotImplementedError(
                        f"No Hessian rule for module '{path}' (Conv2d) with asymmetric padding='same' "
                        f"(kernel {module.kernel_size}, dilation {module.dilation}). Use an odd kernel.")

    def _adjoint(self, module, x, weight, v):
        """A^T v: the transposed conv; for stride 1 a conv with the flipped kernel (much faster on CPU)."""
        pad, dil, stride = _padding(module), pair(module.dilation), pair(module.stride)
        ks = weight.shape[2:]
        full_pad = tuple(d * (k - 1) - p for d, k, p in zip(dil, ks, pad))
        if stride == (1, 1) and min(full_pad) >= 0:
            return F.conv2d(v, weight.transpose(0, 1).flip(2, 3), None, 1, full_pad, dil)
        out_pad = tuple(h - ((o - 1) * s - 2 * p + d * (k - 1) + 1)
                        for h, o, s, p, d, k in zip(x.shape[2:], v.shape[2:], stride, pad, dil, ks))
        return F.conv_transpose2d(v, weight, None, stride, pad, out_pad, 1, dil)

    def vjp(self, module, x, y, v):
        b, k = v.shape[:2]
        out = self._adjoint(module, x, module.weight, v.reshape(b * k, *v.shape[2:]))
        return out.reshape(b, k, *x.shape[1:])

    def diag_backprop(self, module, x, y, m):
        return self._adjoint(module, x, module.weight.square(), m)

    def param_diag(self, module, x, y, M, full):
        U = F.unfold(x, module.kernel_size, module.dilation, _padding(module), module.stride)
        weight, bias = patch_param_diag(M, full, U, module.out_channels)
        out = {"weight": weight.reshape(module.weight.shape)}
        if module.bias is not None:
            out["bias"] = bias
        return out


class ConvTranspose2dRule(Rule):
    has_params = True

    def check(self, module: nn.ConvTranspose2d, path: str) -> None:
        _check_common(module, path)

    def _adjoint(self, module, x, weight, v):
        out = F.conv2d(v, weight, None, module.stride, module.padding, module.dilation, module.groups)
        # With output_padding >= stride the conv sees extra rows that map to no input position.
        return out[..., : x.shape[2], : x.shape[3]]

    def vjp(self, module, x, y, v):
        b, k = v.shape[:2]
        out = self._adjoint(module, x, module.weight, v.reshape(b * k, *v.shape[2:]))
        return out.reshape(b, k, *x.shape[1:])

    def diag_backprop(self, module, x, y, m):
        return self._adjoint(module, x, module.weight.square(), m)

    def _patches(self, module, x: Tensor) -> Tensor:
        # d y[c_out, q] / d w[c_in, c_out, k] = x[c_in, p] where q is where tap k of input p lands:
        # a transposed conv of x with one-hot kernels, one output channel per (c_in, k).
        c_in, kh, kw = x.shape[1], *pair(module.kernel_size)
        onehot = torch.eye(kh * kw, dtype=x.dtype, device=x.device).view(1, kh * kw, kh, kw)
        U = F.conv_transpose2d(x, onehot.expand(c_in, -1, -1, -1), None, module.stride, module.padding,
                               module.output_padding, c_in, module.dilation)
        return U.reshape(x.shape[0], c_in * kh * kw, -1)

    def param_diag(self, module, x, y, M, full):
        U = self._patches(module, x)
        weight, bias = patch_param_diag(M, full, U, module.out_channels)
        c_in, c_out, kh, kw = module.weight.shape
        out = {"weight": weight.reshape(c_out, c_in, kh, kw).transpose(0, 1)}
        if module.bias is not None:
            out["bias"] = bias
        return out
