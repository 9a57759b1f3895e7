"""The curvature engine's memory planner: how many backward steps of M fit the factor budget, and the chunk size
that keeps the peak within it."""

from __future__ import annotations

from torch import Tensor

from .base import Step

FACTOR_BUDGET_BYTES = 1 << 30


def plan_steps(layers, xs, ys, first: int, limit: float) -> list[Step]:
    """The steps `engine` takes from the output down to layer `first`, decided on shapes alone."""
    steps, kind, rows = [], "diag", 0
    for k in range(len(layers) - 1, first - 1, -1):
        _, module, rule = layers[k]
        step = rule.decide(kind, rows, module, xs[k], ys[k], k > first, limit)
        steps.append(step)
        kind, rows = step.out, step.rows
    return steps


def plan_peak_elements(layers, xs, ys, first: int, limit: float) -> int:
    """Per-sample entries of the largest factors alive at once, following the engine's decisions on shapes."""
    return max((step.elements for step in plan_steps(layers, xs, ys, first, limit)), default=0)


def auto_chunk(
    layers, x: Tensor, outputs: list[Tensor], mode: str, limit: float, first: int
) -> int:
    """Samples per backward chunk that keep the planned factors under `FACTOR_BUDGET_BYTES`."""
    if mode == "approx":
        return x.shape[0]
    per_sample = (
        plan_peak_elements(layers, [x, *outputs[:-1]], outputs, first, limit) * x.element_size()
    )
    return max(1, min(x.shape[0], FACTOR_BUDGET_BYTES // max(1, per_sample)))
