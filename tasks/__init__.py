"""Evaluations that consume `Method.sample` (see `tasks.base`).

`from tasks import Task, register, get, names`. The built-in task modules register themselves on the first lookup
(`tasks.registry.BUILTIN`), so importing one task module does not import the others.
"""

from .base import EvalContext, Job, Task
from .registry import TASKS, get, names, register, registered

__all__ = ["EvalContext", "Job", "Task", "TASKS", "get", "names", "register", "registered"]
