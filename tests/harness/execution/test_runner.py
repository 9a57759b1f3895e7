"""The runner end to end: demo grid, second run trains nothing, resume after a kill, failing trials."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from harness.execution.context import RunContext
from tests.conftest import run_cli, start_cli

PLUGIN = textwrap.dedent('''
    """Methods that break on purpose, to check a failing trial never takes the others down."""
    import torch
    import methods

    Base = methods.get("ae")

    @methods.register("broken_ae")
    class BrokenAE(Base):
        description = "raises during fit"
        def _fit(self, data, dependencies, reporter, checkpoint_path):
            raise RuntimeError("this method is broken on purpose")

    @methods.register("nan_ae")
    class NanAE(Base):
        description = "NaN training loss"
        def training_loss(self, x):
            return super().training_loss(x) * float("nan")

    @methods.register("my_ae")
    class MyAE(Base):
        description = "a user's AE subclass, registered from a plugin"
''')


def small_grid(
    tmp_path: Path,
    name: str,
    methods: str,
    epochs: int = 2,
    seeds="[0]",
    plugins="[]",
    checkpoint_minutes: float = 5.0,
) -> Path:
    grid = tmp_path / f"{name}.yaml"
    grid.write_text(
        textwrap.dedent(f"""
        name: {name}
        seeds: {seeds}
        plugins: {plugins}
        train: {{max_epochs: {epochs}, batch_size: 32, checkpoint_minutes: {checkpoint_minutes}}}
        experiments:
          - name: recon
            task: reconstruction
            data: {{train: synthetic}}
            model: {{arch: mlp, latent_dim: 2, hidden: [16, 8]}}
            methods: {methods}
    """)
    )
    return grid


def test_failing_and_nan_trials_do_not_take_others_down(tmp_path):
    (tmp_path / "breakers.py").write_text(PLUGIN)
    grid = small_grid(
        tmp_path, "breakers", "{ae: {}, my_ae: {}, broken_ae: {}, nan_ae: {}}", plugins="[breakers]"
    )
    proc = run_cli(
        "run", "--grid", grid, "--results", tmp_path / "res", "--executor", "local", cwd=tmp_path
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert "this method is broken on purpose" in out and "NaN" in out
    run_dir = tmp_path / "res" / "breakers"
    board = pd.read_csv(run_dir / "leaderboard.csv")
    assert set(board.method) == {"ae", "my_ae"}  # the plugin subclass appears in the leaderboard
    raw = pd.read_csv(run_dir / "raw.csv")
    failed = raw[raw.status == "failed"].drop_duplicates("trial_id")
    assert set(failed.method) == {"broken_ae", "nan_ae"}
    assert (
        failed.error.str.contains("broken on purpose").any()
        and failed.error.str.contains("NaN").any()
    )
    md = (run_dir / "leaderboard.md").read_text()
    assert "## Failed trials" in md and "my_ae" in md
    # the terminal names each failure's log, and the log holds its traceback
    logs = re.findall(r"FAILED model (broken_ae-\w+): .*\(log: (\S+)\)", out)
    assert logs, out
    assert (
        "Traceback" in Path(logs[0][1]).read_text()
        and "broken on purpose" in Path(logs[0][1]).read_text()
    )
    assert "Traceback" not in out


def test_rerun_trains_nothing_report_rebuilds_and_edits_rerun_only_what_changed(tmp_path, capsys):
    """One results folder, four runs in this process: a rerun trains and evaluates nothing; `report` rebuilds
    the leaderboard from records; a changed task parameter reruns that evaluation only (model cached); a
    renamed experiment's old records leave the board."""
    from harness.cli import main

    def run(grid_path) -> str:
        capsys.readouterr()
        code = main(
            [
                "run",
                "--grid",
                str(grid_path),
                "--results",
                str(tmp_path / "res"),
                "--executor",
                "local",
            ]
        )
        out = capsys.readouterr()
        assert code == 0, out.out[-4000:] + out.err[-4000:]
        return out.out + out.err

    grid = small_grid(tmp_path, "again", "{ae: {}}", seeds="[0, 1]")
    assert "2 to train" in run(grid)
    models = sorted((tmp_path / "res" / "models").glob("*/model.pt"))
    mtimes = [p.stat().st_mtime for p in models]
    second = run(grid)
    assert "2 cached, 0 to train" in second and "0 to run" in second
    assert [p.stat().st_mtime for p in models] == mtimes
    run_dir = tmp_path / "res" / "again"
    raw = pd.read_csv(run_dir / "raw.csv")
    assert {"config_hash", "git_commit", "versions", "device", "model_key"} <= set(raw.columns)
    assert raw.model_key.notna().all() and (raw.status == "ok").all()
    (run_dir / "leaderboard.csv").unlink()
    rep = run_cli("report", run_dir)
    assert rep.returncode == 0 and (run_dir / "leaderboard.csv").exists()
    board = pd.read_csv(run_dir / "leaderboard.csv")
    row = board[board.metric == "mse"].iloc[0]
    assert row.n_seeds == 2 and row.ci95_low <= row["mean"] <= row.ci95_high
    # the leaderboard's mean is the mean of the raw per-seed values
    assert abs(row["mean"] - raw[raw.metric == "mse"].value.mean()) < 1e-9
    # one serialised plan (plan.json: experiments as validated, models, trials); records describe themselves
    assert not (run_dir / "grid.json").exists()
    plan = json.loads((run_dir / "plan.json").read_text())
    assert (
        sorted(plan["experiments"]) == ["recon"]
        and len(plan["trials"]) == 2
        and len(plan["models"][0]) == 2
    )
    assert run_cli("report", run_dir).returncode == 0
    again = pd.read_csv(run_dir / "leaderboard.csv")
    pd.testing.assert_frame_equal(board, again)
    assert set(again.dataset) == {"synthetic"} and set(again.arch) == {"mlp"}
    raw = pd.read_csv(run_dir / "raw.csv")
    assert set(raw.method_key) == {"ae"} and json.loads(raw.task_params.iloc[0])["n_samples"] >= 1

    text = grid.read_text()
    grid.write_text(
        text.replace(
            "task: reconstruction", "task: reconstruction\n    task_params: {n_samples: 3}"
        )
    )
    edited = run(grid)
    assert "2 cached, 0 to train" in edited and "0 done, 2 to run" in edited
    grid.write_text(text.replace("name: recon", "name: renamed"))
    run(grid)
    raw = pd.read_csv(run_dir / "raw.csv")
    assert set(raw.experiment) == {"renamed"}
    assert set(pd.read_csv(run_dir / "leaderboard.csv").experiment) == {"renamed"}


PAUSABLE = textwrap.dedent('''
    """An AE whose training with seed 1 stops after two epochs while the file PAUSE exists (one training only, so
    the other CPU slot always trains the rest, whatever order Tune starts them in)."""
    import os, time
    from pathlib import Path
    import methods

    HERE = Path(__file__).parent

    @methods.register("pausable_ae")
    class PausableAE(methods.get("ae")):
        description = "ae that pauses mid-training on request"
        batches = 0

        def training_loss(self, x):
            self.batches += 1
            if self.spec.seed == 1 and self.batches > 24:  # two epochs of the synthetic set at batch size 32
                (HERE / f"paused-{os.getpid()}").touch()
                while (HERE / "PAUSE").exists():
                    time.sleep(0.05)
            return super().training_loss(x)
''')


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def test_resume_after_kill(tmp_path):
    """Kill a run while one model is stored and others are paused mid-training (so the kill interrupts work
    for certain); --resume keeps the stored model and continues an interrupted training from its partial
    checkpoint (a marker written into that checkpoint's history must reach the finished model)."""
    import torch

    (tmp_path / "pausable.py").write_text(PAUSABLE)
    (tmp_path / "PAUSE").touch()
    grid = small_grid(
        tmp_path,
        "killed",
        "{pausable_ae: {}}",
        epochs=60,
        seeds="[0, 1, 2, 3]",
        plugins="[pausable]",
        checkpoint_minutes=0.0001,  # a resume checkpoint every epoch, so a kill finds one
    )
    results = tmp_path / "res"

    def interrupted() -> list[Path]:  # partial checkpoints of trainings that have not finished
        return [
            p
            for p in (results / "models").glob("*/partial.pt")
            if not (p.parent / "model.pt").exists()
        ]

    proc = start_cli(
        "run",
        "--grid",
        grid,
        "--results",
        results,
        "--executor",
        "local",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.time() + 300
    while time.time() < deadline and not (
        list((results / "models").glob("*/model.pt"))
        and interrupted()
        and list(tmp_path.glob("paused-*"))
    ):
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    paused = [int(p.name.split("-")[1]) for p in tmp_path.glob("paused-*")]
    assert paused, "no training paused before the kill"
    deadline = (
        time.time() + 120
    )  # Ray ends the dead driver's trials; none may go on once PAUSE is gone
    while time.time() < deadline and any(_alive(pid) for pid in paused):
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in paused), "paused trainings outlived the killed run"
    done = {p: p.stat().st_mtime for p in (results / "models").glob("*/model.pt")}
    assert done, "no model finished before the kill"
    partial = next(iter(interrupted()), None)
    assert partial is not None, "no training was in progress at the kill: nothing to resume"
    saved = torch.load(partial, weights_only=True)
    epoch = saved["loop"]["epoch"]
    assert 0 < epoch < 60 and len(saved["loop"]["history"]) == epoch
    for record in saved["loop"]["history"]:  # mark the epochs trained before the kill
        record["before_kill"] = True
    torch.save(saved, partial.with_suffix(".marked"))
    os.replace(partial.with_suffix(".marked"), partial)
    (tmp_path / "PAUSE").unlink()
    n_interrupted = len(interrupted())

    resumed = run_cli(
        "run", "--grid", grid, "--results", results, "--executor", "local", "--resume"
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"{n_interrupted} interrupted training(s) continue" in resumed.stdout
    assert f"{len(done)} cached" in resumed.stdout
    assert all(p.stat().st_mtime == m for p, m in done.items())
    assert not partial.exists() and (partial.parent / "model.pt").exists()
    history = torch.load(partial.parent / "model.pt", weights_only=True)["history"]
    assert [bool(h.get("before_kill")) for h in history[:epoch]] == [
        True
    ] * epoch  # started from the checkpoint
    assert len(history) > epoch and not any(
        h.get("before_kill") for h in history[epoch:]
    )  # and went on
    raw = pd.read_csv(results / "killed" / "raw.csv")
    assert sorted(raw.seed.unique()) == [0, 1, 2, 3] and (raw.status == "ok").all()


def test_partial_training_resumes_from_its_last_epoch(tmp_path):
    """The training loop's per-epoch checkpoint: a resumed fit continues at the saved epoch."""
    from harness.execution.trials.train import train_model
    from harness.store.models import ModelCache
    from methods.base import ModelSpec

    spec = ModelSpec(
        "ae",
        {},
        {"name": "synthetic", "classes": None, "limit": None},
        {"arch": "mlp", "latent_dim": 2, "hidden": [8]},
        {
            "lr": 1e-3,
            "batch_size": 64,
            "max_epochs": 3,
            "early_stopping": 8,
            "plateau": {"factor": 0.5, "patience": 5},
            "weight_decay": 0.0,
        },
        0,
    )
    common = RunContext(models_dir=str(tmp_path / "models"), resume=True)
    epochs = []
    train_model(spec, common, report=lambda m: epochs.append(m["epoch"]))
    cache = ModelCache(tmp_path / "models")
    # pretend the run died after epoch 3 of a 5-epoch training: keep the partial state, drop the model
    longer = spec.replace(train={**spec.train, "max_epochs": 5})
    import torch

    first = cache.folder(spec)
    state = torch.load(first / "model.pt", weights_only=True)
    assert epochs == [1, 2, 3] and len(state["history"]) == 3
    epochs.clear()

    # run the 5-epoch training but interrupt after epoch 2 by raising from the reporter
    class Stop(Exception):
        pass

    def stop_at_2(m):
        epochs.append(m["epoch"])
        if m["epoch"] == 2:
            raise Stop

    with pytest.raises(Stop):
        train_model(longer, common, report=stop_at_2)
    assert cache.partial_path(longer).exists()
    epochs.clear()
    train_model(longer, common, report=lambda m: epochs.append(m["epoch"]))
    assert epochs == [3, 4, 5]
    assert not (cache.folder(longer) / "partial.pt").exists() and cache.has(longer)


def test_dry_run_lists_trials(tmp_path):
    grid = small_grid(tmp_path, "dry", "{ae: {}}", seeds="[0, 1]")
    proc = run_cli("run", "--grid", grid, "--results", tmp_path / "res", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("to train") == 2 and "recon/ae/seed1" in proc.stdout
    assert not (tmp_path / "res" / "dry").exists()


def test_list_command():
    proc = run_cli("list")
    assert proc.returncode == 0 and "ae " in proc.stdout and "reconstruction" in proc.stdout


def test_gpu_request_without_gpus_fails_fast_with_exit_2(tmp_path, ray_address):
    grid = small_grid(tmp_path, "gpu", "{ae: {}}")
    text = grid.read_text().replace("seeds: [0]", "seeds: [0]\nresources: {cpu: 1, gpu: 1}")
    grid.write_text(text)
    proc = run_cli("run", "--grid", grid, "--results", tmp_path / "res", "--address", ray_address)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "asks for gpu: 1 per trial but the Ray cluster has 0 GPU(s)" in proc.stderr


def test_eval_batches_keep_every_evaluation_once_and_never_mix_resources():
    from harness.execution.trials.entry import batches as eval_batches

    configs = [{"id": i, "cpus": 1 if i < 30 else 2, "gpus": 0} for i in range(40)]
    batches = eval_batches(configs, slots=2)
    assert [c["id"] for b in batches for c in b["batch"]] == list(range(40))  # all, once, in order
    assert all({c["cpus"] for c in b["batch"]} == {b["cpus"]} for b in batches)
    assert max(len(b["batch"]) for b in batches) == 5  # ceil(40 / (2 slots * 4 per slot))
    assert [len(b["batch"]) for b in eval_batches(configs[:3], slots=16)] == [
        1,
        1,
        1,
    ]  # a big cluster: one each
    assert max(len(b["batch"]) for b in eval_batches(configs * 10, slots=1)) == 8  # capped


def test_a_run_without_resume_says_it_restarts_interrupted_trainings():
    """Half-done trainings are never dropped in silence: without --resume the run names the flag that keeps them."""
    from types import SimpleNamespace

    from harness.execution.run import _Run

    said = []
    run = SimpleNamespace(log=said.append, resume=False)
    _Run.note_interrupted(run, 2)
    run.resume = True
    _Run.note_interrupted(run, 1)
    _Run.note_interrupted(run, 0)
    assert said == [
        "[laebench] 2 interrupted training(s) start again from epoch 0: stop now and rerun with --resume "
        "to continue them from their last saved epoch",
        "[laebench] 1 interrupted training(s) continue from their last saved epoch",
    ]
