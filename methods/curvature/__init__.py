"""Diagonal GGN ("Hessian") of the Gaussian reconstruction loss by backpropagating M (paper sec. 3, app. E).

Public names: `diag_ggn(model, x, mode)` with modes "exact", "approx" (E.4.1) and "mix";
`SUPPORTED_LAYERS` (type -> rule table); `check_supported(model)`. One file per layer family holds the
rules (linear, conv, pooling, activations, reshape); engine.py holds the table and the backward loop.
"""
from .engine import MODES, SUPPORTED_LAYERS, check_supported, diag_ggn

__all__ = ["MODES", "SUPPORTED_LAYERS", "check_supported", "diag_ggn"]
