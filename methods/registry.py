"""The method registry: `register("key")` decorates a `Method` subclass; `get`, `names` look it up;
`registered(...)` scopes registrations to a `with` block (see `laebench.registry.Registry.registered`)."""
from laebench.registry import Registry

METHODS = Registry("method", "laebench.methods")
register = METHODS.register
get = METHODS.get
names = METHODS.names
registered = METHODS.registered
