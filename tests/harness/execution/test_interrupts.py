"""Ctrl-C and SIGTERM during a run: exit 130 / 143, laebench's resume line and no other advice (none of Ray Tune's),
every lock released, nothing recorded as failed; after Ctrl-C `--resume` completes."""

from __future__ import annotations

import signal
import subprocess
import textwrap
import time

from tests.conftest import run, run_cli, start_cli

SLOW = textwrap.dedent('''
    """An AE whose batches take a little time, so that a run can be interrupted mid-training."""
    import time
    import methods

    @methods.register("slow_ae")
    class SlowAE(methods.get("ae")):
        description = "ae with slow batches"

        def training_loss(self, x):
            time.sleep(0.05)
            return super().training_loss(x)
''')


GRID = textwrap.dedent("""
    name: stopped
    seeds: [0, 1]
    plugins: [slow]
    train: {max_epochs: 6, batch_size: 32, checkpoint_minutes: 0.0001}  # a checkpoint every epoch
    experiments:
      - name: recon
        task: reconstruction
        data: {train: synthetic}
        model: {arch: mlp, latent_dim: 2, hidden: [16, 8]}
        methods: {slow_ae: {}}
""")


def interrupt(tmp_path, ray_address, sig: int):
    """Run the slow grid and send `sig` to the driver once a training is under way: (process, stdout, stderr, grid
    file, results folder)."""
    (tmp_path / "slow.py").write_text(SLOW)
    grid = tmp_path / "grid.yaml"
    grid.write_text(GRID)
    results = tmp_path / "res"
    proc = start_cli(
        "run",
        "--grid",
        grid,
        "--results",
        results,
        "--address",
        ray_address,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not list((results / "models").glob("*/partial.pt")):
        time.sleep(0.1)  # a training is under way
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    return proc, out, err, grid, results


def assert_clean_stop(proc, out, err, results, sig):
    """Exit 128 + the signal, laebench's resume line and no other advice, every lock released, no failure."""
    assert proc.returncode == 128 + sig, out + err
    assert "interrupted:" in err and "rerun with --resume" in err and "Traceback" not in err, err
    assert "Tuner.restore" not in out + err and "WARNING" not in out + err, out + err
    assert "SIGTERM received" not in err  # Ray's abort handler never ran
    assert not list(results.rglob("*.lock")), list(results.rglob("*.lock"))
    assert not list(
        (results / "models").glob("*/failed.txt")
    )  # an interrupted training is not a failure
    assert not list((results / "stopped" / "trials").glob("*.json"))
    assert "evaluations:" not in out  # no phase starts after the stop


def test_ctrl_c_stops_cleanly_and_resume_completes(tmp_path, ray_address):
    proc, out, err, grid, results = interrupt(tmp_path, ray_address, signal.SIGINT)
    assert_clean_stop(proc, out, err, results, signal.SIGINT)

    resumed = run_cli(
        "run", "--grid", grid, "--results", results, "--address", ray_address, "--resume"
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "evaluations: 2 planned" in resumed.stdout


def test_sigterm_stops_like_ctrl_c(tmp_path, ray_address, capsys):
    proc, out, err, _, results = interrupt(tmp_path, ray_address, signal.SIGTERM)
    assert_clean_stop(proc, out, err, results, signal.SIGTERM)
    assert "[laebench] SIGTERM: stopping" in out
    code, said = run(capsys, "verify", results)  # what is left is what a rerun does
    assert code == 1 and "training was interrupted (--resume continues" in said, said
    assert "run stopped/recon/slow_ae/seed0: no record yet" in said, said
