"""Code fingerprints: which version of a method's or task's code produced a number.

`fingerprint(cls)` hashes the normalised source of the modules behind a registered class: the module of every
class in its MRO that is laebench's (`methods`, `tasks`, `laebench`, `harness`) or of the class's own package
or plugin, and, transitively, the modules of those packages that they import (`from .base import ...`,
`import methods.curvature.engine`, imports inside functions too). Normalised: the AST without docstrings,
comments, blank lines or formatting (`ast.dump` without positions), so a comment or docstring edit keeps the
fingerprint while a changed expression, constant or renamed variable changes it. A top-level package's
`__init__` is not followed through an import (ours only register their modules; following it would tie every
method to every other; sub-packages such as `methods.curvature` are followed), and library code (torch,
numpy, ...) is not hashed: pin its version instead.

A class may declare `version = "2"` to take manual control: its fingerprint is then that string (and its
name), whatever its code does. The trade-off: no rerun after an edit that matters unless you bump it, and no
rerun after one that does not. Model keys (`methods.base.ModelSpec.key`) and trial hashes (`harness.grid.plan`)
include fingerprints, so a run retrains and re-evaluates what the code changed (`harness verify` lists it).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import sys
from functools import cache

OURS = frozenset({"methods", "tasks", "laebench", "harness"})


@cache
def fingerprint(cls: type) -> str:
    """16 hex digits identifying the code behind `cls` (or its declared `version`). Computed once per process:
    the code a process runs is the code it imported, whatever happens to the files afterwards."""
    name = f"{cls.__module__}.{cls.__qualname__}"
    if "version" in vars(cls):
        return _digest(f"version {name} {cls.version}")
    scope = OURS | {cls.__module__.split(".")[0]}
    modules = {k.__module__ for k in cls.__mro__ if k.__module__.split(".")[0] in scope}
    closure: set[str] = set()
    for module in sorted(modules):
        closure |= _closure(module, scope)
    return _digest(name + "\n" + "\n".join(f"{m} {_module_digest(m)}" for m in sorted(closure)))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _closure(module: str, scope: frozenset) -> set[str]:
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        if name in seen or _source_path(name) is None:
            continue
        seen.add(name)
        todo += [m for m in _imports(name) if m.split(".")[0] in scope and not _is_registry(m)]
    return seen


def _source_path(name: str) -> str | None:
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    if path is None:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            return None
        path = spec.origin if spec is not None else None
    return path if path and path.endswith(".py") and os.path.exists(path) else None


def _is_registry(name: str) -> bool:
    """A top-level package (`methods`, `tasks`, a plugin package): its `__init__` imports every module to
    register it, so following it would tie each class to all the others. Sub-packages are followed."""
    return "." not in name and _is_package(name)


def _is_package(name: str) -> bool:
    path = _source_path(name)
    return path is not None and os.path.basename(path) == "__init__.py"


def _parse(name: str) -> ast.Module:
    path = _source_path(name)
    with open(path, encoding="utf-8") as f:
        return ast.parse(f.read(), filename=path)


@cache
def _imports(name: str) -> list[str]:
    """The modules `name` imports (absolute names; `from pkg import sub` gives pkg.sub when sub is a module)."""
    package = name if _is_package(name) else name.rpartition(".")[0]
    out = []
    for node in ast.walk(_parse(name)):
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            out.append(base)
            if base.split(".")[0] in OURS | {
                name.split(".")[0]
            }:  # never look inside (so import) a library
                out += [
                    f"{base}.{alias.name}"
                    for alias in node.names
                    if _source_path(f"{base}.{alias.name}")
                ]
    return [m for m in out if m]


@cache
def _module_digest(name: str) -> str:
    tree = _parse(name)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return _digest(ast.dump(tree, include_attributes=False))
