"""Evaluations that consume `Method.sample` (see `tasks.base`).

`from tasks import Task, register, get, names`. Importing this package imports every task module.
"""
from .base import EvalContext, Job, Task
from .registry import TASKS, get, names, register, registered
from . import reconstruction  # noqa: F401
from . import imputation  # noqa: F401
from . import knn  # noqa: F401
from . import ood  # noqa: F401
from . import hessian_quality  # noqa: F401
from . import hessian_scaling  # noqa: F401

__all__ = ["EvalContext", "Job", "Task", "TASKS", "get", "names", "register", "registered"]
