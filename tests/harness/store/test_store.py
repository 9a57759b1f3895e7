"""The results store under what clusters do to it: truncated checkpoints, concurrent runs, kill -9 mid-write,
stale locks. Grids are tiny (synthetic data, 1-2 epochs) and share the session's Ray instance."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from harness.execution.context import RunContext
from harness.store.locks import exclusive
from harness.store.models import ModelCache
from harness.store.verify import inspect_folder
from tests.conftest import ROOT, records, run, specs, start_cli, tiny_grid, trainings


def test_truncated_checkpoint_is_reported_and_retrained_alone(tmp_path, capsys):
    grid, results = tiny_grid(tmp_path), tmp_path / "res"
    code, out = run(capsys, "run", "--grid", grid, "--results", results, "--executor", "local")
    assert code == 0, out
    cache = ModelCache(results / "models")
    bad, good = sorted(specs(grid), key=lambda s: s.seed)
    assert cache.has(bad) and cache.has(good)
    weights = torch.load(cache.folder(bad) / "model.pt", weights_only=True)["state"]
    good_mtime = (cache.folder(good) / "model.pt").stat().st_mtime_ns
    path = cache.folder(bad) / "model.pt"
    size = path.stat().st_size
    os.truncate(path, size // 2)  # a node killed mid-write, a full disk

    code, out = run(capsys, "verify", results)
    assert code == 1
    assert (
        f"retrain {bad.key}: model.pt is {size // 2} bytes but entry.json records {size} (truncated)"
        in out
    )
    assert "rerun store/recon/ae/seed0: its model is not usable" in out and "seed1" not in out
    assert not cache.has(bad) and cache.has(good)
    with pytest.raises(RuntimeError, match="unusable"):
        cache.load(bad)

    code, out = run(capsys, "run", "--grid", grid, "--results", results, "--executor", "local")
    assert code == 0, out
    assert f"retraining {bad.key}: model.pt is {size // 2} bytes" in out
    assert "2 needed, 1 cached, 1 to train" in out and "1 done, 1 to run" in out
    assert trainings(cache, bad) == 2 and trainings(cache, good) == 1
    assert (cache.folder(good) / "model.pt").stat().st_mtime_ns == good_mtime
    # CPU training is bitwise reproducible: the retrained weights are the lost ones
    again = torch.load(cache.folder(bad) / "model.pt", weights_only=True)["state"]
    assert torch.equal(_flat(weights), _flat(again)) and _flat(weights).numel() > 100
    assert run(capsys, "verify", results)[0] == 0


def _flat(obj) -> torch.Tensor:
    """Every number in a (nested) state dict, in key order, as one float64 vector."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().double().flatten()
    if isinstance(obj, dict):
        parts = [_flat(obj[k]) for k in sorted(obj, key=str)]
    elif isinstance(obj, (list, tuple)):
        parts = [_flat(v) for v in obj]
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        parts = [torch.tensor([float(obj)], dtype=torch.float64)]
    else:
        parts = []
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64)


def test_concurrent_runs_train_and_evaluate_each_model_once(tmp_path):
    """Two runs of one grid on one folder at once (as two nodes would): every model trained once, every
    evaluation made once; the second run waits for the first's lock and uses its result."""
    grid, results = tiny_grid(tmp_path, seeds="[0, 1]"), tmp_path / "res"
    first = specs(grid)[0]
    cache = ModelCache(results / "models")
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = []
    with cache.lock(first):  # hold one model until both runs have planned it as "to train"
        for log in logs:
            procs.append(
                start_cli(
                    "run",
                    "--grid",
                    grid,
                    "--results",
                    results,
                    "--executor",
                    "local",
                    stdout=log.open("w"),
                    stderr=subprocess.STDOUT,
                    env={"PYTHONUNBUFFERED": "1"},
                )
            )
        deadline = time.time() + 240
        while time.time() < deadline and not all(
            "2 needed, 0 cached, 2 to train" in log.read_text() for log in logs
        ):
            assert all(p.poll() is None for p in procs), [log.read_text() for log in logs]
            time.sleep(0.2)
        time.sleep(1.0)
    for proc in procs:
        proc.wait(timeout=300)
    out = [log.read_text() for log in logs]
    assert [p.returncode for p in procs] == [0, 0], out
    assert all("2 needed, 0 cached, 2 to train" in text for text in out), out
    assert [trainings(cache, s) for s in specs(grid)] == [1, 1]
    recs = records(results / "store")
    assert len(recs) == 2 and all(r["status"] == "ok" and r["attempt"] == 1 for r in recs)
    both = "".join(out)
    trial_logs = "".join(
        p.read_text() for p in (results / "store" / "logs").glob("*.log")
    )  # worker output
    assert "already trained (by another run meanwhile)" in trial_logs
    assert "done by another run meanwhile" in both


KILLER = textwrap.dedent('''
    """Train one model of the grid in this process and SIGKILL it at a chosen point of the checkpoint write."""
    import os, signal, sys
    from pathlib import Path

    import harness.store.models as cache_module
    from harness.grid.config import load_grid
    from harness.grid.plan import make_plan
    from harness.execution.context import RunContext
    from harness.execution.trials.train import train_trial

    grid, models, seed, point = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    spec = next(s for s in make_plan(load_grid(grid)).models if s.seed == seed)
    real_write, real_replace = os.write, os.replace

    def write_half_then_die(fd, data):
        if ".model.pt." in os.readlink(f"/proc/self/fd/{fd}"):
            real_write(fd, bytes(data[: len(data) // 2]))
            os.kill(os.getpid(), signal.SIGKILL)
        return real_write(fd, data)

    def die_before_rename(src, dst):
        if Path(dst).name == "model.pt":
            os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(src, dst)

    if point == "mid-write":
        os.write = write_half_then_die
    else:
        os.replace = die_before_rename
    train_trial({"spec": spec.to_dict(), "context": RunContext(models_dir=models), "cpus": 1})
''')


def test_kill_9_during_checkpoint_writes_is_retrained(tmp_path, capsys):
    """SIGKILL a trainer half-way through writing model.pt (seed 0: a torn temporary file) and another with the
    file written and fsynced but not yet renamed (seed 1). Each leaves its manifest without a model.pt, and its
    lock. The next run counts neither as cached, takes the dead trainers' locks and retrains both."""
    grid, results = tiny_grid(tmp_path, seeds="[0, 1]"), tmp_path / "res"
    (tmp_path / "killer.py").write_text(KILLER)
    cache = ModelCache(results / "models")
    by_seed = {s.seed: s for s in specs(grid)}
    for seed, point in ((0, "mid-write"), (1, "before-rename")):
        proc = subprocess.run(
            [
                sys.executable,
                str(tmp_path / "killer.py"),
                str(grid),
                str(results / "models"),
                str(seed),
                point,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
        assert (
            cache.folder(by_seed[seed]) / "train.lock"
        ).exists()  # the killed trainer's lock stays behind
        assert not cache.has(by_seed[seed])
    for seed in (0, 1):
        folder = cache.folder(by_seed[seed])
        assert (folder / "entry.json").exists() and not (folder / "model.pt").exists()
        tmp = list(folder.glob(".model.pt.*.tmp"))
        size = json.loads((folder / "entry.json").read_text())["size"]
        assert len(tmp) == 1 and (
            tmp[0].stat().st_size < size if seed == 0 else tmp[0].stat().st_size == size
        )

    code, out = run(capsys, "run", "--grid", grid, "--results", results, "--executor", "local")
    assert code == 0, out
    assert "2 needed, 0 cached, 2 to train" in out
    for spec in by_seed.values():
        assert f"retraining {spec.key}: entry.json is present but model.pt is missing" in out
    for spec in by_seed.values():
        folder = cache.folder(spec)
        assert inspect_folder(folder).ok and trainings(cache, spec) == 1
        assert not list(folder.glob(".*.tmp")) and not (folder / "train.lock").exists()


HOLDER = textwrap.dedent("""
    import sys, time
    from harness.store.locks import exclusive
    with exclusive(sys.argv[1], "test", {"lease_s": 2.0, "heartbeat_s": 0.2}):
        print("held", flush=True)
        time.sleep(600)
""")


@pytest.mark.parametrize("how", ["kill", "stop"])
def test_stale_lock_is_taken_over(tmp_path, how):
    """A holder that died (same host: taken at once) or stopped heartbeating (after the lease) loses the lock."""
    lock = tmp_path / "m" / "train.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        os.kill(holder.pid, signal.SIGKILL if how == "kill" else signal.SIGSTOP)
        if how == "kill":
            holder.wait()  # reaped, as Ray reaps its workers (a zombie's pid still counts as alive)
        lines = []
        started = time.monotonic()
        with exclusive(lock, "test", {"lease_s": 2.0, "heartbeat_s": 0.2}, log=lines.append):
            waited = time.monotonic() - started
        assert waited < 1.5 if how == "kill" else 1.8 < waited < 30, (waited, lines)
    finally:
        holder.kill()
        holder.wait()


def test_live_lock_holder_is_waited_for(tmp_path):
    """A heartbeating holder keeps its lock past the lease; the waiter says once that it waits."""
    lock = tmp_path / "m" / "train.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        lines = []
        from filelock import Timeout

        from harness.store.locks import SoftFileLease

        contender = SoftFileLease(
            str(lock), lease_duration=2.0, heartbeat_interval=0.2, poll_interval=0.1
        )
        with pytest.raises(Timeout):
            contender.acquire(timeout=4.0)  # twice the lease: a live heartbeat is never taken over
        holder.kill()
        holder.wait()
        with exclusive(lock, "test", {"lease_s": 2.0, "heartbeat_s": 0.2}, log=lines.append):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_derived_results_are_kept_next_to_their_model_and_dropped_with_it(tmp_path):
    """`ModelCache.derived` (the OOD task's typicality reference): computed once per model and identity, computed
    again when the model is retrained (its sha256 changes) or the identity differs."""
    from harness.execution.trials.train import train_model
    from methods.base import ModelSpec

    spec = ModelSpec(
        "ae",
        {},
        {"name": "synthetic", "classes": None, "limit": None},
        {"arch": "mlp", "latent_dim": 2, "hidden": [8]},
        {"max_epochs": 1, "batch_size": 64},
        0,
    )
    common = RunContext(models_dir=str(tmp_path / "models"))
    train_model(spec, common, report=lambda m: None)
    cache, calls = ModelCache(tmp_path / "models"), []

    def compute():
        calls.append(1)
        return {"log_px": -1.5 * len(calls)}

    assert cache.derived(spec, "ref", {"n": 3}, compute) == {"log_px": -1.5}
    assert cache.derived(spec, "ref", {"n": 3}, compute) == {"log_px": -1.5} and len(calls) == 1
    assert cache.derived(spec, "ref", {"n": 4}, compute) == {"log_px": -3.0} and len(calls) == 2
    # a result computed from another version of the model (its sha256 differs) is not served: computed again
    path = next(
        p
        for p in (cache.folder(spec) / "derived").glob("ref-*.json")
        if json.loads(p.read_text())["key"]["identity"] == {"n": 3}
    )
    stored = json.loads(path.read_text())
    stored["key"]["model_sha256"] = "0" * 64
    path.write_text(json.dumps(stored))
    assert cache.derived(spec, "ref", {"n": 3}, compute) == {"log_px": -4.5} and len(calls) == 3


def test_clear_abandoned_removes_dead_holders_markers_only(tmp_path):
    """An interrupted run clears the markers its killed trials left; a live holder's (another run's) stays."""
    from harness.store.locks import clear_abandoned

    dead, live = tmp_path / "a" / "train.lock", tmp_path / "b" / "train.lock"
    holders = [
        subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(lock)], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for lock in (dead, live)
    ]
    try:
        assert [h.stdout.readline().strip() for h in holders] == ["held", "held"]
        holders[0].kill()
        holders[0].wait()  # reaped, as Ray reaps its workers
        settings = {"lease_s": 2.0, "heartbeat_s": 0.2}
        missing = tmp_path / "c" / "train.lock"
        assert clear_abandoned([dead, live, missing], settings, wait_s=0) == [live]
        assert not dead.exists() and live.exists()
    finally:
        for h in holders:
            h.kill()
            h.wait()
