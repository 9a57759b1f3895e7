"""The method registry: `register("key")` decorates a `Method` subclass; `get`, `names` look it up;
`registered(...)` scopes registrations to a `with` block (see `laebench.registry.Registry.registered`)."""

from laebench.registry import Registry

METHODS = Registry("method", "laebench.methods")
register, get, names, registered = METHODS.register, METHODS.get, METHODS.names, METHODS.registered
