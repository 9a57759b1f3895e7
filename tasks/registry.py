"""The task registry: `register("key")` decorates a `Task` subclass; `get`, `names` look it up."""
from harness.registry import Registry

TASKS = Registry("task", "laebench.tasks")
register = TASKS.register
get = TASKS.get
names = TASKS.names
