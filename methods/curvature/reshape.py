"""GGN rules for layers that do not change values: `nn.Flatten`, `nn.Unflatten`, `nn.Identity`, `nn.Dropout`.

A factor of M lives in flattened per-sample coordinates, so reshapes leave it untouched; a diagonal M is
reshaped to the input's feature shape. Dropout is the identity in eval mode (or with p=0); in training
mode its mask is random, so `check` refuses it.
"""

from __future__ import annotations

from torch import nn

from .base import IdentityRule, Rule


class ReshapeRule(Rule):
    diag_preserving = True
    lazy = "keep"

    def check(self, module, path: str) -> None:
        if getattr(module, "start_dim", None) == 0 or getattr(module, "dim", None) == 0:
            raise NotImplementedError(
                f"No Hessian rule for module '{path}' ({type(module).__name__}) acting on "
                "dim 0: the batch dimension must stay. Use dim 1 or later."
            )

    def row_cost(self, module, x, y):
        return 0

    def vjp(self, module, x, y, ctx, v):
        return v.reshape(*v.shape[:2], *x.shape[1:])

    def diag_backprop(self, module, x, y, ctx, m):
        return m.reshape(x.shape)

    def factor_backprop(self, module, x, y, ctx, L):
        return L


class DropoutRule(IdentityRule):
    def check(self, module, path: str) -> None:
        if module.training and module.p > 0:
            raise ValueError(
                f"Module '{path}' ({type(module).__name__}) is in training mode with p={module.p}: "
                "its mask is random, so the GGN is not defined. Call model.eval() first."
            )


RESHAPE_RULES = {
    nn.Flatten: ReshapeRule(),
    nn.Unflatten: ReshapeRule(),
    nn.Identity: IdentityRule(),
    nn.Dropout: DropoutRule(),
    nn.Dropout1d: DropoutRule(),
    nn.Dropout2d: DropoutRule(),
}
