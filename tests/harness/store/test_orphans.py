"""What no current plan needs (orphans) is listed apart by `verify` (which exits 0 when the current plan is whole)
and by `gc DIR` with its size; `gc DIR --yes` removes it, and nothing the plan needs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from harness.store.models import ModelCache
from harness.store.orphans import plan_needs
from tests.conftest import run, specs, tiny_grid


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_verify_lists_orphans_apart_and_gc_removes_them_only_with_yes(tmp_path, capsys):
    results = tmp_path / "res"
    grid = tiny_grid(tmp_path, seeds="[0, 1]")
    code, out = run(capsys, "run", "--grid", grid, "--results", results, "--executor", "local")
    assert code == 0, out
    kept, dropped = sorted(specs(grid), key=lambda s: s.seed)
    cache = ModelCache(results / "models")
    plan = json.loads((results / "store" / "plan.json").read_text())
    assert sorted(plan["model_keys"]) == sorted([kept.key, dropped.key])

    grid = tiny_grid(tmp_path, seeds="[0]")  # the grid edited: seed 1 dropped
    code, out = run(capsys, "run", "--grid", grid, "--results", results, "--executor", "local")
    assert code == 0 and "0 to train" in out and "0 to run" in out, out
    assert plan_needs(results).models == {kept.key}
    temp = cache.folder(kept) / f".model.pt.{_dead_pid()}.0badf00d.tmp"
    temp.write_bytes(b"x" * 100)
    os.utime(temp, (time.time() - 3600, time.time() - 3600))  # a write killed an hour ago
    record = results / "store" / "trials" / "recon__ae__seed1.json"
    model = cache.folder(dropped)

    code, out = run(capsys, "verify", results)
    assert code == 0, out  # the current plan is whole
    assert "models: 1 needed, 1 verified, 0 to retrain" in out
    assert "evaluations: 1 record(s), 0 to rerun, 0 planned without a record" in out
    assert f"orphan model {model} (" in out and "no current plan uses it" in out
    assert f"orphan record {record} (" in out and "its trial is not in the current plan" in out
    assert f"orphan partial {temp} (100 B): left by an interrupted write" in out

    code, out = run(capsys, "gc", results)
    assert code == 0 and "orphans: 3 (" in out, out
    assert f"  model {model} (" in out and "kB)" in out and f"  record {record} (" in out
    assert "nothing removed" in out and model.is_dir() and record.exists() and temp.exists()

    code, out = run(capsys, "gc", results, "--yes")
    assert code == 0 and "removed: " in out, out
    assert not model.exists() and not record.exists() and not temp.exists()
    assert cache.has(kept) and (results / "store" / "trials" / "recon__ae__seed0.json").exists()
    code, out = run(capsys, "verify", results)
    assert code == 0 and "orphan" not in out, out
    code, out = run(capsys, "run", "--grid", grid, "--results", results, "--executor", "local")
    assert code == 0 and "0 to train" in out and "0 to run" in out, out


def test_without_a_plan_no_model_is_called_an_orphan(tmp_path, capsys):
    (tmp_path / "res" / "models" / "ae-0123456789abcdef").mkdir(parents=True)
    (tmp_path / "res" / "models" / "ae-0123456789abcdef" / "failed.txt").write_text("boom")
    (tmp_path / "res" / "old" / "trials").mkdir(parents=True)  # a grid folder without plan.json
    code, out = run(capsys, "gc", tmp_path / "res")
    assert code == 0 and "orphans: 0 (0 B)" in out, out
    assert f"not told ({tmp_path / 'res' / 'old' / 'plan.json'} is missing)" in out
    code, out = run(capsys, "verify", tmp_path / "res")
    assert code == 1 and "retrain ae-0123456789abcdef: training failed: boom" in out, out
    assert (tmp_path / "res" / "models" / "ae-0123456789abcdef").is_dir()
