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
        self.from_entry_points: set[str] = (
            set()
        )  # keys registered by installed packages' entry points

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
        before = set(self._items)
        for ep in entry_points(group=self.entry_point_group):
            ep.load()
        self.from_entry_points |= set(self._items) - before

    def importable_by_workers(self, key: str, plugins: list[str]) -> str:
        """'' when a fresh Ray worker registers `key` too (laebench's own, an installed entry point, or a module
        of the grid's `plugins:`), else a one-line reason with the fix."""
        cls = self.get(key)
        module = cls.__module__
        if key in self.from_entry_points or module.split(".")[0] in ("methods", "tasks"):
            return ""
        if any(
            module == p or module.startswith(p + ".") or module.split(".")[0] == p.split(".")[0]
            for p in plugins
        ):
            return ""
        where = "__main__ (the script you ran)" if module == "__main__" else f"module '{module}'"
        suggestion = "my_" + self.kind + "s" if module == "__main__" else module
        return (
            f"{self.kind} '{key}' is defined in {where}, which Ray workers do not import, so every trial would "
            f"fail with 'Unknown {self.kind}'. Put the class in a module next to the grid file and list it: "
            f"plugins: [{suggestion}]"
        )


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
