"""Evaluations that consume `Method.sample` (see `tasks.base`).

`from tasks import Task, register, get, names`. Importing this package imports every task module.
"""

from . import (
    hessian_quality,  # noqa: F401
    hessian_scaling,  # noqa: F401
    imputation,  # noqa: F401
    knn,  # noqa: F401
    ood,  # noqa: F401
    reconstruction,  # noqa: F401
)
from .base import EvalContext, Job, Task
from .registry import TASKS, get, names, register, registered

__all__ = ["EvalContext", "Job", "Task", "TASKS", "get", "names", "register", "registered"]
