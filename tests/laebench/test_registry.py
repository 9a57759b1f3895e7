"""Registries: duplicate keys, unknown names, scoped registration, plugins from a grid's `plugins:` list, and the
layering of imports (`laebench` <- `methods` / `tasks` <- `harness`; nothing in the packages imports `benchmarks`)."""

import ast
import textwrap

import pytest

import methods
import tasks
from harness.grid.config import ConfigError, load_grid
from laebench.registry import Registry
from tests.conftest import ROOT


def test_method_and_task_registries_list_builtins():
    assert "ae" in methods.names()
    assert "reconstruction" in tasks.names()
    assert methods.get("ae").key == "ae"


def test_unknown_name_lists_known_names():
    with pytest.raises(ValueError, match=r"Unknown method 'aee'. Available: .*ae"):
        methods.get("aee")
    with pytest.raises(ValueError, match=r"Unknown task 'nope'. Available: .*reconstruction"):
        tasks.get("nope")


def test_duplicate_key_is_refused_and_names_the_holder():
    reg = Registry("thing", "laebench.none")

    @reg.register("a")
    class A:
        pass

    with pytest.raises(ValueError, match=r"already registered by .*A"):

        @reg.register("a")
        class B:
            pass


def test_registered_scopes_registrations_to_a_block():
    reg = Registry("thing", "laebench.none")

    @reg.register("kept")
    class Kept:
        pass

    class Temporary:
        pass

    with reg.registered("temp", Temporary) as cls:
        assert cls is Temporary and reg.get("temp") is Temporary and Temporary.key == "temp"
        with reg.registered():

            @reg.register("inner")
            class Inner:
                pass

            assert reg.names() == ["inner", "kept", "temp"]
        assert reg.names() == ["kept", "temp"]
    assert reg.names() == ["kept"]
    with pytest.raises(RuntimeError), reg.registered("temp", Temporary):
        raise RuntimeError("the block failed")
    assert reg.names() == ["kept"]  # unregistered on errors too
    with pytest.raises(ValueError, match="needs the class"), reg.registered("temp"):
        pass


def test_registered_methods_and_tasks_are_scoped():
    class Scoped(methods.get("ae")):
        description = "registered for one block"

    with methods.registered("scoped_ae_test", Scoped):
        assert methods.get("scoped_ae_test") is Scoped
    assert "scoped_ae_test" not in methods.names()


def test_harness_registry_reexports_the_one_registry_class():
    import harness.grid.plugins

    assert harness.grid.plugins.Registry is Registry
    assert type(methods.METHODS) is Registry and isinstance(tasks.TASKS, Registry)


def test_plugin_module_from_grid_registers_a_method(tmp_path, scoped_registries):
    (tmp_path / "my_plugin_mod.py").write_text(
        textwrap.dedent("""
        import methods
        @methods.register("ae_plugin_test")
        class MyAE(methods.get("ae")):
            description = "user AE"
    """)
    )
    (tmp_path / "grid.yaml").write_text(
        textwrap.dedent("""
        name: plug
        plugins: [my_plugin_mod]
        experiments:
          - {name: e, task: reconstruction, data: {train: synthetic}, model: {arch: mlp, latent_dim: 2},
             methods: {ae_plugin_test: {}}}
    """)
    )
    grid = load_grid(tmp_path / "grid.yaml")
    assert grid.experiments[0].methods[0].key == "ae_plugin_test"
    assert "ae_plugin_test" in methods.names()


def test_missing_plugin_is_a_config_error(tmp_path):
    (tmp_path / "grid.yaml").write_text("name: p\nplugins: [no_such_module_xyz]\nexperiments: []\n")
    with pytest.raises(ConfigError, match="no_such_module_xyz"):
        load_grid(tmp_path / "grid.yaml")


def _imported_packages(path) -> set[str]:
    """Top-level names a module imports (absolute imports; relative ones stay in its package)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    "package, forbidden",
    [
        ("laebench", {"harness", "methods", "tasks", "benchmarks"}),
        ("methods", {"harness", "benchmarks"}),
        ("tasks", {"harness", "benchmarks"}),
        ("harness", {"benchmarks"}),
    ],
)
def test_imports_never_run_up_the_floors(package, forbidden):
    bad = {
        str(path.relative_to(ROOT)): sorted(_imported_packages(path) & forbidden)
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    assert not {k: v for k, v in bad.items() if v}
