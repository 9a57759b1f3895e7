"""Ctrl-C during a run: exit 130, the resume line, nothing recorded as failed, and `--resume` then completes."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

from tests.conftest import ROOT, run_cli

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


def test_ctrl_c_stops_cleanly_and_resume_completes(tmp_path, ray_address):
    (tmp_path / "slow.py").write_text(SLOW)
    grid = tmp_path / "grid.yaml"
    grid.write_text(
        textwrap.dedent("""
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
    )
    results = tmp_path / "res"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness",
            "run",
            "--grid",
            str(grid),
            "--results",
            str(results),
            "--address",
            ray_address,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not list((results / "models").glob("*/partial.pt")):
        time.sleep(0.1)  # a training is under way
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "interrupted:" in err and "rerun with --resume" in err and "Traceback" not in err, err
    assert not list(
        (results / "models").glob("*/failed.txt")
    )  # an interrupted training is not a failure
    assert "evaluations:" not in out  # no phase starts after the stop

    resumed = run_cli(
        "run", "--grid", grid, "--results", results, "--address", ray_address, "--resume"
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "evaluations: 2 planned" in resumed.stdout
