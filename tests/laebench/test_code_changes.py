"""Numbers follow the code: a plugin author fixes a bug and reruns; the model is retrained and its evaluations
redone (verify names them first), `--reuse-stale` keeps and marks; a comment or docstring edit leaves the
fingerprint (so every key and hash) unchanged; a method the workers could not import is refused before Ray starts."""

from __future__ import annotations

import textwrap

import pandas as pd

from laebench.fingerprint import fingerprint
from tests.conftest import run_cli

PLUGIN = textwrap.dedent('''
    """A plugin method whose reconstructions are scaled (the 'bug' is the scale)."""
    import methods
    from methods import Samples


    @methods.register("scaled_ae")
    class ScaledAE(methods.get("ae")):
        description = "ae with scaled reconstructions"

        def _sample(self, x, n):
            self.set_mode(False)
            z = self.encoder(x)
            recon = self.decoder(z) * 0.5  # SCALE
            return Samples(latents=z.expand(n, *z.shape).clone(), recon=recon.expand(n, *recon.shape).clone())
''')
GRID = textwrap.dedent("""
    name: code
    seeds: [0]
    plugins: [scaled.py]
    train: {max_epochs: 1, batch_size: 32}
    experiments:
      - name: recon
        task: reconstruction
        task_params: {n_samples: 2}
        data: {train: synthetic}
        model: {arch: mlp, latent_dim: 2, hidden: [16, 8]}
        methods: {scaled_ae: {}}
""")


def _mse(results) -> float:
    board = pd.read_csv(results / "code" / "leaderboard.csv")
    return float(board[board.metric == "mse"]["mean"].iloc[0])


def test_a_fix_retrains_and_reevaluates_a_comment_does_not_and_reuse_stale_marks(tmp_path):
    plugin, grid, results = tmp_path / "scaled.py", tmp_path / "grid.yaml", tmp_path / "res"
    plugin.write_text(PLUGIN)
    grid.write_text(GRID)

    def run(*extra):
        done = run_cli(
            "run",
            "--grid",
            grid,
            "--results",
            results,
            "--executor",
            "local",
            *extra,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    out = run()
    assert "1 needed, 0 cached, 1 to train" in out
    buggy = _mse(results)

    plugin.write_text(PLUGIN.replace("* 0.5", "* 1.0"))  # the fix: one line that changes results
    verify = run_cli("verify", results, "--plugins", "scaled", cwd=tmp_path)  # never from plan.json
    assert verify.returncode == 1 and "code changed since: scaled_ae-" in verify.stdout
    assert (
        "rerun code/recon/scaled_ae/seed0: code changed since (its model's method)" in verify.stdout
    )

    dry = run("--dry-run")  # what a run would do says so too
    assert "to train, stored from earlier code (--reuse-stale uses it)" in dry, dry
    out = run("--reuse-stale")
    assert "1 model(s) whose code changed since they were trained: reusing the stored ones" in out
    assert (
        "1 needed, 1 cached, 0 to train" in out and "1 to run" in out
    )  # old weights, sampled by new code
    assert "⚠stale code" in (results / "code" / "leaderboard.md").read_text()

    out = run()
    assert (
        "training them anew" in out
        and "1 needed, 0 cached, 1 to train" in out
        and "1 to run" in out
    )
    assert (
        _mse(results) != buggy
        and "⚠stale code" not in (results / "code" / "leaderboard.md").read_text()
    )
    raw = pd.read_csv(results / "code" / "raw.csv")
    assert raw.task_code.notna().all() and not raw.stale.any()


def test_fingerprints_ignore_comments_and_docstrings_and_honour_version(
    tmp_path, monkeypatch, scoped_registries
):
    import importlib
    import sys

    from laebench import fingerprint as fp_module

    monkeypatch.syspath_prepend(str(tmp_path))

    def fp(source: str) -> str:
        """The fingerprint of ScaledAE in module `fp_mod` with this source, as a fresh process would see it."""
        (tmp_path / "fp_mod.py").write_text(source)
        sys.modules.pop("fp_mod", None)
        for cached in (fingerprint, fp_module._module_digest, fp_module._imports):
            cached.cache_clear()
        importlib.invalidate_caches()
        return fingerprint(importlib.import_module("fp_mod").ScaledAE)

    base = fp(PLUGIN)
    assert (
        fp(
            PLUGIN.replace("# SCALE", "# another comment").replace(
                "are scaled", "are scaled by half"
            )
        )
        == base
    )
    assert fp(PLUGIN.replace("* 0.5", "* 0.6")) != base  # a constant that changes results
    versioned = PLUGIN.replace('description = "ae', 'version = "2"\n    description = "ae')
    assert fp(versioned) == fp(versioned.replace("* 0.5", "* 0.6")) != base  # the author decides


def test_a_method_the_workers_cannot_import_is_refused_before_ray(tmp_path):
    """A method registered in the calling script (`__main__`) passes nothing: the fix is in the error."""
    script = tmp_path / "driver.py"
    script.write_text(
        PLUGIN.replace('"""A plugin', '"""A script')
        + textwrap.dedent(f"""
        import sys
        from harness.cli import main
        sys.exit(main(["run", "--grid", {str(tmp_path / "grid.yaml")!r}, "--results", {str(tmp_path / "r")!r}]))
    """)
    )
    (tmp_path / "grid.yaml").write_text(GRID.replace("plugins: [scaled.py]", "plugins: []"))
    import subprocess
    import sys

    from tests.conftest import ROOT

    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 2, done.stdout + done.stderr
    err = done.stderr.strip()
    assert err.count("\n") == 0 and "method 'scaled_ae' is defined in __main__" in err
    assert "plugins: [my_methods]" in err and "Traceback" not in done.stderr
