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

    from harness.execution.ray_setup import loopback_only, quiet_token_notice

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


def run_cli(*args, cwd=None, timeout=600, env=None) -> subprocess.CompletedProcess:
    """`python -m harness ...` in a subprocess, as a user types it."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "harness", *map(str, args)],
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )


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


def pytest_collection_modifyitems(config, items):
    """`LAEBENCH_REVERSE_TESTS=1 python -m pytest` runs the suite in reverse order (a check that no test depends on
    another having run first; `--random-order-seed=N` shuffles)."""
    if os.environ.get("LAEBENCH_REVERSE_TESTS") == "1":
        items.reverse()


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
