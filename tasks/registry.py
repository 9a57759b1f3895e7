"""The task registry: `register("key")` decorates a `Task` subclass; `get`, `names` look it up;
`registered(...)` scopes registrations to a `with` block (see `laebench.registry.Registry.registered`).

The built-in task modules are imported on the first lookup, not when `tasks` is imported: a process that needs one
module of the package (the Fig. 7 measurement's child process, `tasks.hessian_scaling.measure`) does not pay for
every task's libraries (scikit-learn, scipy)."""

import importlib

from laebench.registry import Registry

BUILTIN = ("hessian_quality", "hessian_scaling", "imputation", "knn", "ood", "reconstruction")


class _Tasks(Registry):
    _builtins_loaded = False

    def _load_entry_points(self) -> None:
        if not self._builtins_loaded:
            self._builtins_loaded = True
            for name in BUILTIN:
                importlib.import_module(f"tasks.{name}")
        super()._load_entry_points()


TASKS = _Tasks("task", "laebench.tasks")
register, get, names, registered = TASKS.register, TASKS.get, TASKS.names, TASKS.registered
