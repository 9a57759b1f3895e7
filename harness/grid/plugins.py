"""Plugin loading for grids, and `Registry` (defined in `laebench.registry`, re-exported here for compatibility).

`import_plugins` imports a grid's `plugins:` (code from the grid's folder: it runs with the user's rights) and
turns any failure into one line; `plugin_folders` says which of the folders searched the imported plugins came
from (what Ray's workers get on their import path, nothing else).
"""

from __future__ import annotations

import importlib
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path

from laebench.registry import Registry  # noqa: F401  (re-exported: `harness.grid.plugins.Registry`)


def import_plugins(modules: list[str], paths: list[str] | tuple = ()) -> None:
    """Import user modules that register methods or tasks (the grid's `plugins:` list), looking in `paths`
    (the grid's folder, the working directory) first. `paths` are on `sys.path` only while importing:
    a plugin that imports a sibling module later, at call time, must have it on PYTHONPATH.
    Any failure raises a one-line ValueError that names the plugin and its error's last line."""
    with _search_paths(paths):
        for name in modules:
            try:
                importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name != name.split(".")[0] and exc.name != name:
                    raise ValueError(_failed(name, exc)) from None
                raise ValueError(
                    f"Cannot import plugin module '{name}': no module named '{exc.name}'. Put {name}.py next to "
                    f"the grid file (for --plugins: in the working directory), or the package on PYTHONPATH."
                ) from None
            except (
                Exception,
                SystemExit,
            ) as exc:  # the plugin's own code raised: name it, not its traceback
                raise ValueError(_failed(name, exc)) from None


def plugin_folders(modules: list[str], paths: list[str] | tuple) -> list[str]:
    """The entries of `paths` that the plugin `modules` (imported already, by `import_plugins`) were found in,
    in `paths`' order: a plugin `x` is `<folder>/x.py` or the package `<folder>/x/`. A plugin installed or on
    `$PYTHONPATH` needs no folder; a folder holding no plugin is not returned."""
    roots = set()
    for name in modules:
        module = sys.modules.get(name.split(".")[0])
        file = getattr(module, "__file__", None)
        if file and Path(file).name != "__init__.py":
            roots.add(Path(file).resolve().parent)
        roots |= {Path(entry).resolve().parent for entry in getattr(module, "__path__", [])}
    return [p for p in dict.fromkeys(str(p) for p in paths if p) if Path(p).resolve() in roots]


def _failed(name: str, exc: BaseException) -> str:
    """'Plugin module 'x' failed to import: ZeroDivisionError: division by zero (at /path/x.py, line 3).'"""
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    where = ""
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f" (at {exc.filename}, line {exc.lineno})"
    else:
        frames = [
            f
            for f in traceback.extract_tb(exc.__traceback__)
            if "importlib" not in f.filename and f.filename != __file__
        ]
        if frames:  # the deepest line in the plugin's own file (the first frame after importlib's)
            own = [f for f in frames if f.filename == frames[0].filename][-1]
            where = f" (at {own.filename}, line {own.lineno})"
    return f"Plugin module '{name}' failed to import: {' '.join(last.split())}{where}"


@contextmanager
def _search_paths(paths):
    added = [p for p in dict.fromkeys(str(p) for p in paths if p) if p not in sys.path]
    sys.path[:0] = added
    importlib.invalidate_caches()
    try:
        yield
    finally:
        for p in added:
            if p in sys.path:
                sys.path.remove(p)
