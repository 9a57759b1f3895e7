"""Diagonal GGN ("Hessian") of the Gaussian reconstruction loss by backpropagating M (paper sec. 3, app. E).

Public names: `diag_ggn(model, x, mode)` with modes "exact", "approx" (E.4.1) and "mix" (default threshold
`DEFAULT_THRESHOLD`); `record_activations(model)` to reuse a forward pass (e.g. the training step's);
`SUPPORTED_LAYERS` (type -> rule table); `check_supported(model)`. One file per layer family holds the
rules (linear, conv, pooling, activations, reshape); engine.py holds the table, the representations of M
and the backward loop.
"""
from .engine import DEFAULT_THRESHOLD, MODES, SUPPORTED_LAYERS, check_supported, diag_ggn, record_activations

__all__ = ["DEFAULT_THRESHOLD", "MODES", "SUPPORTED_LAYERS", "check_supported", "diag_ggn", "record_activations"]
