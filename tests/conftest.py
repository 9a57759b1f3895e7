"""Shared fixtures: one Ray instance per test session (cold starts cost seconds), data-root discovery."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.cli import main
from harness.grid.config import load_grid
from harness.grid.plan import make_plan
from harness.store.models import ModelCache

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

os.environ.setdefault("OMP_NUM_THREADS", "1")


def shared_data_root() -> Path | None:
    root = Path(os.environ.get("LAEBENCH_DATA", SHARED_DATA))
    return root if (root / "MNIST").exists() else None


@pytest.fixture(scope="session")
def data():
    """The generated `synthetic` set (1x8x8 bars, four classes): seconds to train on."""
    from harness.datasets import load_dataset

    return load_dataset("synthetic")


@pytest.fixture(scope="session")
def ray_address():
    """Address of a Ray instance shared by every test that runs a grid (started once)."""
    import ray

    from harness.execution.backends.ray_cluster import loopback_only, quiet_token_notice

    if (
        not ray.is_initialized()
    ):  # as `harness run` starts one: Ray's token authentication on, loopback only
        quiet_token_notice()
        loopback_only()
        ray.init(
            address="local",
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env={
                "env_vars": {
                    "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
                    "OMP_NUM_THREADS": "1",
                }
            },
        )
    yield ray.get_runtime_context().gcs_address


def _cli(args, env, unset, python_flags) -> tuple[list[str], dict]:
    """The command line and environment of `python -m harness ARGS`: this process's environment without the
    variables whose names start with one of `unset`, plus `env`."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(tuple(unset))}
    command = [sys.executable, *python_flags, "-m", "harness", *map(str, args)]
    return command, {**kept, **(env or {})}


def run_cli(
    *args, cwd=None, timeout=600, env=None, unset=(), python_flags=()
) -> subprocess.CompletedProcess:
    """`python -m harness ...` in a subprocess, as a user types it; waits and captures stdout and stderr (text).

    `env` adds variables, `unset` removes those whose names start with one of its prefixes (e.g. "RAY_"),
    `python_flags` go before `-m` (e.g. "-P"); the working directory is the repository unless `cwd`."""
    command, full_env = _cli(args, env, unset, python_flags)
    return subprocess.run(
        command,
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )


def start_cli(*args, cwd=None, env=None, unset=(), python_flags=(), **popen) -> subprocess.Popen:
    """`python -m harness ...` started without waiting, for tests that signal, kill or race it: as `run_cli`, with
    `popen` passed to `subprocess.Popen` (stdout, stderr, start_new_session); text mode."""
    command, full_env = _cli(args, env, unset, python_flags)
    return subprocess.Popen(command, cwd=cwd or ROOT, env=full_env, text=True, **popen)


@pytest.fixture
def scoped_registries(tmp_path):
    """Methods and tasks registered during the test (by plugins too) are unregistered after it, and modules
    imported from its `tmp_path` are forgotten: no test sees another's registrations, whatever the order."""
    import methods
    import tasks

    with methods.registered(), tasks.registered():
        yield
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """`LAEBENCH_REVERSE_TESTS=1 python -m pytest` runs the suite in reverse order (a check that no test depends on
    another having run first; `--random-order-seed=N` shuffles).

    Under pytest-xdist (`-n auto --dist loadgroup`, pyproject.toml's default) every test on the shared Ray instance
    goes to one worker, so the suite starts that instance once, and the tests of a module with a module-scoped
    fixture (a trained store, a built report) stay together, so it is built once."""
    if os.environ.get("LAEBENCH_REVERSE_TESTS") == "1":
        items.reverse()
    for item in items:
        if "ray_address" in item.fixturenames:
            item.add_marker(pytest.mark.xdist_group("ray"))
        elif any(
            fixture.scope == "module"
            for defs in item._fixtureinfo.name2fixturedefs.values()
            for fixture in defs
        ):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    """Say so when pytest-xdist dropped the groups (it does on pytest 9.2, pytest-dev/pytest-xdist#1386): the
    suite still passes, but starts Ray once per worker and builds module fixtures twice."""
    if not session.config.getoption("loadgroup", False):
        return
    lost = [
        i.nodeid
        for i in session.items
        if i.get_closest_marker("xdist_group") and "@" not in i.nodeid
    ]
    if lost:
        session.config.issue_config_time_warning(
            pytest.PytestWarning(
                f"pytest-xdist ignored the test groups ({len(lost)} tests, e.g. {lost[0]}): install the pytest "
                "version pyproject.toml pins, or run `python -m pytest -n 0`"
            ),
            stacklevel=2,
        )


def pytest_xdist_auto_num_workers(config):
    """`-n auto`: two workers (one takes the Ray tests, the other the rest), one on a single core."""
    return min(2, os.cpu_count() or 1)


# --- tiny grids run in-process (the store, determinism and untrusted-file tests) -----------------------


def tiny_grid(
    tmp_path: Path,
    name: str = "store",
    seeds: str = "[0, 1]",
    epochs: int = 1,
    methods: str = "{ae: {}}",
) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        textwrap.dedent(f"""
        name: {name}
        seeds: {seeds}
        train: {{max_epochs: {epochs}, batch_size: 32}}
        experiments:
          - name: recon
            task: reconstruction
            task_params: {{n_samples: 3}}
            data: {{train: synthetic}}
            model: {{arch: mlp, latent_dim: 2, hidden: [16, 8]}}
            methods: {methods}
    """)
    )
    return path


def specs(grid: Path) -> list:
    return make_plan(load_grid(grid)).models


def trainings(cache: ModelCache, spec) -> int:
    path = cache.folder(spec) / "trainings.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def records(run_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((run_dir / "trials").glob("*.json"))]


def run(capsys, *args) -> tuple[int, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out + out.err
