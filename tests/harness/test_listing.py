"""`harness list`: methods, tasks, and with --params their parameters and the grid's train/resources keys; a
second listing comes from the cache without importing torch; an unknown name in a grid gets a 'did you mean'."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from tests.conftest import ROOT, run_cli


def test_list_params_names_train_and_resources_keys_and_is_cached(tmp_path):
    env = {"LAEBENCH_CACHE": str(tmp_path / "cache")}
    first = run_cli("list", "--params", env=env)
    assert first.returncode == 0, first.stderr
    for line in ("lae_online", "train:", "checkpoint_minutes", "snapshot_every", "resources:"):
        assert line in first.stdout
    assert len(list((tmp_path / "cache" / "listing").glob("*-params.txt"))) == 1
    again = run_cli("list", "--params", env=env)
    assert again.stdout == first.stdout  # the same listing, read back
    probe = (
        "import sys, runpy, contextlib, io\n"
        "sys.argv = ['harness', 'list']\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    runpy.run_module('harness', run_name='__main__')\n"
        "print('torch' in sys.modules)\n"
    )
    run_cli("list", env=env)  # fills the names-only cache
    seen = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, **env},
    )  # fmt: skip
    assert seen.stdout.strip() == "False", seen.stderr  # listed without importing torch


def test_an_unknown_name_gets_a_did_you_mean(tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text(
        textwrap.dedent("""
        name: typo
        experiments:
          - name: e
            task: reconstruction
            data: {train: synthetic}
            model: {arch: mlp, latent_dim: 2, hidden: [8]}
            methods: {vea: {}}
    """)
    )
    done = run_cli("run", "--grid", grid, "--results", tmp_path / "res")
    assert done.returncode == 2 and "Did you mean 'vae'?" in done.stderr, done.stderr
    grid.write_text(grid.read_text().replace("task: reconstruction", "task: reconstrution"))
    done = run_cli("run", "--grid", grid, "--results", tmp_path / "res")
    assert done.returncode == 2 and "Did you mean 'reconstruction'?" in done.stderr, done.stderr
