"""The package's shape holds: imports point one way (no circles; cli -> execution -> grid -> store; report reads
grid and store and never execution; nothing in `harness/` imports the paper package), modules stay small, functions
fit on a screen, no module imports another's `_private` name, and the code passes `ruff check` and
`ruff format --check` with the project's settings. The two allow-lists below give a reason per entry and only shrink.

Imports are read with `ast` (lazy imports inside functions count; `if TYPE_CHECKING:` blocks do not, since they
never run).
"""

from __future__ import annotations

import ast
import graphlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("harness", "methods", "tasks", "laebench", "laebench_paper")
MAX_LINES = 300
MAX_FUNCTION_LINES = 60  # a function fits on a screen; a longer one usually holds two jobs

FINGERPRINTED = (
    "methods/ source is hashed into every model key (laebench.fingerprint): splitting it retrains every model, "
    "so it waits for a change that retrains anyway"
)
# "path::qualified.name" -> why that function may stay over MAX_FUNCTION_LINES
LONG_FUNCTIONS = {
    "methods/training.py::fit_loop": FINGERPRINTED,
}
# "path <- module._name" -> why that module may import that private name
PRIVATE_IMPORTS: dict[str, str] = {}

# (importer folder, imported folder): arrows that must not exist. A folder is a top-level package, or one of
# harness's sub-packages (`harness.grid`, ...); `harness.cli` and the other top-level harness files are their own.
FORBIDDEN = {
    (
        "harness.execution",
        "harness.report",
    ): "a run writes records; the CLI writes reports from them",
    ("harness.execution", "harness.cli"): "the CLI drives execution, not the reverse",
    ("harness.report", "harness.execution"): "a report reads records, whatever ran them",
    ("harness.grid", "harness.execution"): "reading a grid runs nothing",
    ("harness.grid", "harness.report"): "reading a grid writes no report",
    ("harness.store", "harness.grid"): "the store keeps files, whatever grid made them",
    ("harness.store", "harness.execution"): "the store keeps files, whatever ran them",
    ("harness.store", "harness.report"): "the store keeps files, whatever reads them",
    ("methods", "tasks"): "tasks consume methods; methods know nothing of tasks",
    ("methods", "harness"): "a method runs without the harness",
    ("tasks", "harness"): "a task runs without the harness",
    ("laebench", "methods"): "laebench is the floor every package stands on",
    ("laebench", "tasks"): "laebench is the floor every package stands on",
    ("laebench", "harness"): "laebench is the floor every package stands on",
    ("laebench_paper", "harness.execution"): "a paper package registers claims; it runs nothing",
    ("laebench_paper", "harness.cli"): "a paper package registers claims; it runs nothing",
}


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = path
    return mods


def _runtime_nodes(tree: ast.AST):
    """Every node, except those under `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Each module's imports of the project's own modules (resolved to the longest module name that exists)."""
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        is_pkg = path.name == "__init__.py"
        targets: set[str] = set()
        for node in _runtime_nodes(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                wanted = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _from_module(node, name, is_pkg)
                wanted = [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            for target in wanted:
                while target and target not in mods:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    targets.add(target)
        graph[name] = targets
    return graph


def _from_module(node: ast.ImportFrom, importer: str, is_pkg: bool) -> str:
    """The absolute name of the module a `from ... import` in `importer` reads (relative imports resolved)."""
    base = node.module or ""
    if node.level:
        parts = importer.split(".") if is_pkg else importer.split(".")[:-1]
        parts = parts[: len(parts) - node.level + 1]
        base = ".".join(parts + ([base] if base else []))
    return base


def _folder(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "harness" and len(parts) > 2:
        return ".".join(parts[:2])
    return module if parts[0] == "harness" else parts[0]


def _within(folder: str, name: str) -> bool:
    return folder == name or folder.startswith(name + ".")


GRAPH = _imports(_modules())


def test_no_module_imports_itself_through_others():
    try:
        tuple(graphlib.TopologicalSorter(GRAPH).static_order())
    except graphlib.CycleError as err:
        pytest.fail(f"import circle: {' -> '.join(err.args[1])}")


def test_folders_import_one_way():
    broken = []
    for importer, targets in GRAPH.items():
        for target in targets:
            a, b = _folder(importer), _folder(target)
            for (src, dst), why in FORBIDDEN.items():
                if _within(a, src) and _within(b, dst) and a != b:
                    broken.append(f"{importer} imports {target} ({why})")
    assert not broken, "\n".join(sorted(broken))


def test_harness_never_imports_the_paper_package():
    offenders = [
        f"{m} imports {t}"
        for m, targets in GRAPH.items()
        if m.startswith("harness")
        for t in targets
        if t.startswith("laebench_paper")
    ]
    assert not offenders, offenders


def test_the_rule_checker_sees_a_forbidden_arrow():
    """The checks above can fail: a made-up execution -> report import is caught, a TYPE_CHECKING one is not."""
    tree = ast.parse("import x\nif TYPE_CHECKING:\n    import y\ndef f():\n    import z\n")
    seen = {a.name for n in _runtime_nodes(tree) if isinstance(n, ast.Import) for a in n.names}
    assert seen == {"x", "z"}
    assert _folder("harness.execution.run") == "harness.execution"
    assert _folder("harness.cli") == "harness.cli"
    assert _within("harness.execution", "harness") and not _within("laebench_paper", "laebench")
    with pytest.raises(graphlib.CycleError):
        tuple(graphlib.TopologicalSorter({"a": {"b"}, "b": {"a"}}).static_order())


def test_modules_are_small():
    long = {
        str(p.relative_to(ROOT)): n
        for p in _modules().values()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines (split them by job): {long}"


def _function_lengths(tree: ast.AST, prefix: str = "") -> dict[str, int]:
    """Each function's and method's qualified name -> its lines as formatted (`def` to its last line,
    docstring included, decorators not); a nested function counts within its parent and on its own."""
    out = {}
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = prefix + node.name
            if not isinstance(node, ast.ClassDef):
                out[name] = node.end_lineno - node.lineno + 1
            out |= _function_lengths(node, name + ".")
        else:
            out |= _function_lengths(node, prefix)
    return out


def _private_imports(tree: ast.AST, module: str, is_pkg: bool) -> list[str]:
    """`module._name` for every `from module import _name` (relative imports resolved against `module`)."""
    return [
        f"{_from_module(node, module, is_pkg)}.{a.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for a in node.names
        if a.name.startswith("_") and not a.name.startswith("__")
    ]


# (path relative to the root, module name, parsed tree) of every package module
FILES = [
    (path.relative_to(ROOT).as_posix(), name, ast.parse(path.read_text()))
    for name, path in sorted(_modules().items())
]
LENGTHS = {
    f"{rel}::{qualname}": n
    for rel, _, tree in FILES
    for qualname, n in _function_lengths(tree).items()
}
PRIVATE = {
    f"{rel} <- {imported}"
    for rel, name, tree in FILES
    for imported in _private_imports(tree, name, rel.endswith("__init__.py"))
}


def test_functions_fit_on_a_screen():
    long = {k: n for k, n in LENGTHS.items() if n > MAX_FUNCTION_LINES and k not in LONG_FUNCTIONS}
    assert not long, (
        f"functions over {MAX_FUNCTION_LINES} lines (split them by job into named helpers): {long}"
    )


def test_no_module_imports_another_modules_private_name():
    found = sorted(PRIVATE - set(PRIVATE_IMPORTS))
    assert not found, (
        "private names imported across modules (make the name public where it is an interface, "
        f"or move it to where it is used): {found}"
    )


def test_allow_lists_only_shrink():
    """An entry whose function was split, or whose import is gone, is removed with the fix."""
    stale = [k for k in LONG_FUNCTIONS if LENGTHS.get(k, 0) <= MAX_FUNCTION_LINES]
    stale += [k for k in PRIVATE_IMPORTS if k not in PRIVATE]
    assert not stale, f"allow-list entries that no longer apply (remove them): {stale}"
    assert all(LONG_FUNCTIONS.values()) and all(PRIVATE_IMPORTS.values()), (
        "every entry needs a reason"
    )


def test_the_size_and_privacy_checkers_see_a_breach():
    """The two checks above can fail: a long method, a nested function and a relative private import are seen."""
    body = "        x = 1\n" * MAX_FUNCTION_LINES
    source = "class A:\n    def m(self):\n" + body + "\ndef f():\n    def g():\n        pass\n"
    lengths = _function_lengths(ast.parse(source))
    assert lengths == {"A.m": MAX_FUNCTION_LINES + 1, "f": 3, "f.g": 2}
    tree = ast.parse("from .plotting import _figure, save\nfrom __future__ import annotations\n")
    assert _private_imports(tree, "laebench_paper.bars", False) == [
        "laebench_paper.plotting._figure"
    ]
    assert _private_imports(tree, "harness.grid", True) == ["harness.grid.plotting._figure"]


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_ruff_passes(command):
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "--no-cache", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
