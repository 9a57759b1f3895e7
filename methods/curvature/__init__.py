"""Diagonal GGN ("Hessian") of the Gaussian reconstruction loss by backpropagating M (paper sec. 3, app. E).

Public names: `diag_ggn(model, x, mode)` with modes `MODES` = "exact", "approx" (E.4.1) and "mix" (default
threshold `DEFAULT_THRESHOLD`); `POSTHOC_MODES`, the Hessians a post-hoc Laplace can use (`MODES` and
laplace-torch's "kfac"); `record_activations(model)` to reuse a forward pass (e.g. the training step's);
`SUPPORTED_LAYERS` (type -> rule table); `check_supported(model)`. One file per layer family holds the rules
(linear, conv, pooling, activations, reshape), each declaring what the engine needs (base.py: `Rule.decide`);
table.py maps layer types to rules, factors.py holds the forms of M, engine.py the backward loop and
planner.py its memory planner. The time and memory of these backends against image size (Fig. 7) is a task:
`tasks/hessian_scaling/`.
"""

from .engine import DEFAULT_THRESHOLD, MODES, diag_ggn
from .table import SUPPORTED_LAYERS, check_supported, record_activations

POSTHOC_MODES = (*MODES, "kfac")

__all__ = [
    "DEFAULT_THRESHOLD",
    "MODES",
    "POSTHOC_MODES",
    "SUPPORTED_LAYERS",
    "check_supported",
    "diag_ggn",
    "record_activations",
]
