"""The method registry: `register("key")` decorates a `Method` subclass; `get`, `names` look it up."""
from harness.registry import Registry

METHODS = Registry("method", "laebench.methods")
register = METHODS.register
get = METHODS.get
names = METHODS.names
