"""One registry class for methods and tasks (`methods.METHODS`, `tasks.TASKS`).

`Registry.register(key)` is a class decorator that refuses duplicate keys and names the holder;
`Registry.get(key)` raises a `ValueError` listing every known key. Entry points (group
`laebench.methods` / `laebench.tasks`) are loaded lazily on first lookup so installed plugins
register themselves without being imported by hand. `Registry.registered(...)` scopes registrations to a
`with` block (tests, notebooks): whatever is registered inside is unregistered at its end.
"""
from __future__ import annotations

from contextlib import contextmanager
from importlib.metadata import entry_points


class Registry:
    """A named mapping from registry keys to classes."""

    def __init__(self, kind: str, entry_point_group: str):
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._items: dict[str, type] = {}
        self._entry_points_loaded = False

    def register(self, key: str):
        """Class decorator: `@register("ae") class AE(Method): ...`."""
        if not isinstance(key, str) or not key.isidentifier():
            raise ValueError(f"{self.kind} key must be an identifier-like string. Got {key!r}.")

        def decorator(cls: type) -> type:
            holder = self._items.get(key)
            if holder is not None and holder is not cls and _qualname(holder) != _qualname(cls):
                raise ValueError(
                    f"{self.kind.capitalize()} '{key}' is already registered by {_qualname(holder)}; "
                    f"cannot register {_qualname(cls)}. Choose another key."
                )
            cls.key = key
            self._items[key] = cls
            return cls

        return decorator

    @contextmanager
    def registered(self, key: str | None = None, cls: type | None = None):
        """Scope registrations to a `with` block: `with methods.registered("mine", Mine): ...` registers `Mine`
        for the block; `with methods.registered(): import my_plugin` keeps what the block registers (e.g. by
        importing a plugin) only until the block ends. On exit the registry is as it was on entry."""
        self._load_entry_points()  # else entry points first loaded inside the block would vanish with it
        saved = dict(self._items)
        try:
            if key is not None:
                if cls is None:
                    raise ValueError(f"registered({key!r}) needs the class to register.")
                self.register(key)(cls)
            yield cls
        finally:
            self._items.clear()
            self._items.update(saved)

    def get(self, key: str) -> type:
        self._load_entry_points()
        try:
            return self._items[key]
        except KeyError:
            raise ValueError(
                f"Unknown {self.kind} '{key}'. Available: {', '.join(self.names())}."
            ) from None

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._items)

    def items(self) -> list[tuple[str, type]]:
        return [(name, self._items[name]) for name in self.names()]

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=self.entry_point_group):
            ep.load()


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
