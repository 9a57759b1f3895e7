"""The task registry: `register("key")` decorates a `Task` subclass; `get`, `names` look it up;
`registered(...)` scopes registrations to a `with` block (see `laebench.registry.Registry.registered`)."""

from laebench.registry import Registry

TASKS = Registry("task", "laebench.tasks")
register, get, names, registered = TASKS.register, TASKS.get, TASKS.names, TASKS.registered
