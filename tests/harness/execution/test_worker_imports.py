"""Ray workers import from their Python environment and the folders holding the grid's plugins, nothing else: not
the working directory (which Ray adds by default), not a grid folder that holds no plugin."""

from __future__ import annotations

import json
import sys
import textwrap

from harness.grid.plugins import import_plugins, plugin_folders
from tests.conftest import run_cli

PROBE = textwrap.dedent("""
    '''Records the import path of every process that imports it.'''
    import json, sys
    with open({log!r}, "a") as out:
        out.write(json.dumps({{"argv0": sys.argv[0], "path": sys.path}}) + "\\n")
""")
PLANTED = "open({marker!r}, 'a').write('ran')\nraise ImportError('planted')\n"
GRID = textwrap.dedent("""
    name: paths
    seeds: [0]
    plugins: [probe_37]
    train: {max_epochs: 1, batch_size: 32}
    experiments:
      - name: recon
        task: reconstruction
        task_params: {n_samples: 2}
        data: {train: synthetic}
        model: {arch: mlp, latent_dim: 2, hidden: [8]}
        methods: {ae: {}}
""")


def test_workers_import_path_is_the_environment_and_the_plugin_folder(tmp_path):
    """Its own Ray instance (the session's has the repository on PYTHONPATH): `python -P`, so that the driver
    itself does not put the working directory first either."""
    grid_dir, work, log, marker = (
        tmp_path / "grid",
        tmp_path / "work",
        tmp_path / "paths.jsonl",
        tmp_path / "RAN",
    )
    grid_dir.mkdir()
    work.mkdir()
    (grid_dir / "grid.yaml").write_text(GRID)
    (grid_dir / "probe_37.py").write_text(PROBE.format(log=str(log)))
    (work / "pandas.py").write_text(
        PLANTED.format(marker=str(marker))
    )  # Tune's workers import pandas
    done = run_cli(
        "run",
        "--grid",
        grid_dir / "grid.yaml",
        "--results",
        tmp_path / "res",
        cwd=work,
        timeout=600,
        env={"LAEBENCH_NUM_CPUS": "2"},
        unset=("PYTHONPATH",),  # and "-P": nothing but the environment and the plugin folders
        python_flags=("-P",),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert not marker.exists(), "a module in the working directory ran in a worker"
    seen = [json.loads(line) for line in log.read_text().splitlines()]
    workers = [
        w for w in seen if not w["argv0"].endswith("__main__.py")
    ]  # the driver: harness/__main__.py
    assert workers and len(workers) < len(seen), seen
    for worker in workers:
        outside = [
            p
            for p in worker["path"]
            if not p.startswith((sys.prefix, sys.base_prefix)) and "__editable__" not in p
        ]
        assert outside == [str(grid_dir)], worker["path"]


def test_only_folders_that_hold_a_named_plugin_are_plugin_folders(tmp_path, scoped_registries):
    grid_dir, work = tmp_path / "grid", tmp_path / "work"
    (grid_dir / "pkg_37").mkdir(parents=True)
    (grid_dir / "pkg_37" / "__init__.py").write_text("")
    work.mkdir()
    (work / "mod_37.py").write_text("")
    paths = [str(grid_dir), str(work)]
    assert plugin_folders([], paths) == []  # `plugins: []`: nothing of the grid's folder
    import_plugins(["pkg_37"], paths)
    assert plugin_folders(["pkg_37"], paths) == [str(grid_dir)]
    import_plugins(["mod_37"], paths)
    assert plugin_folders(["mod_37", "pkg_37"], paths) == paths
    assert plugin_folders(["json"], paths) == []  # installed: found without a folder
