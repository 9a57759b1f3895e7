"""Registries: duplicate keys, unknown names, plugins from a grid's `plugins:` list."""
import textwrap

import pytest

import methods
import tasks
from harness.config import ConfigError, load_grid
from harness.registry import Registry


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


def test_plugin_module_from_grid_registers_a_method(tmp_path):
    (tmp_path / "my_plugin_mod.py").write_text(textwrap.dedent("""
        import methods
        @methods.register("ae_plugin_test")
        class MyAE(methods.get("ae")):
            description = "user AE"
    """))
    (tmp_path / "grid.yaml").write_text(textwrap.dedent("""
        name: plug
        plugins: [my_plugin_mod]
        experiments:
          - {name: e, task: reconstruction, data: {train: synthetic}, model: {arch: mlp, latent_dim: 2},
             methods: {ae_plugin_test: {}}}
    """))
    grid = load_grid(tmp_path / "grid.yaml")
    assert grid.experiments[0].methods[0].key == "ae_plugin_test"
    assert "ae_plugin_test" in methods.names()


def test_missing_plugin_is_a_config_error(tmp_path):
    (tmp_path / "grid.yaml").write_text("name: p\nplugins: [no_such_module_xyz]\nexperiments: []\n")
    with pytest.raises(ConfigError, match="no_such_module_xyz"):
        load_grid(tmp_path / "grid.yaml")
