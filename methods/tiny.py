"""A tiny fitted model for contract checks: `fit_tiny(spec, data)` trains a spec and the models it depends on,
in-process, on a tiny network (`TINY_MODEL`, `TINY_TRAIN`: one epoch). Used by `methods.testing.check_method` and
`tasks.testing.check_task`."""

from __future__ import annotations

from laebench.contracts import require

from .base import Method, ModelSpec
from .registry import get

TINY_MODEL = {"arch": "mlp", "latent_dim": 2, "hidden": [16, 8]}
TINY_TRAIN = {"max_epochs": 1, "batch_size": 64}


def fit_tiny(spec: ModelSpec, data, fitted: dict | None = None) -> Method:
    """Fit `spec` and (first, recursively) the models it depends on, in-process; `fitted` memoises by key."""
    fitted = {} if fitted is None else fitted
    if spec.key not in fitted:
        cls = get(spec.method)
        deps = {name: fit_tiny(dep, data, fitted) for name, dep in cls.dependencies(spec).items()}
        method = cls(spec, data.image_shape)
        out = method.fit(data, dependencies=deps, reporter=lambda metrics: None)
        require(out is method, f"method '{spec.method}': fit must return self.")
        fitted[spec.key] = method
    return fitted[spec.key]
