"""A results or report folder is data, never code: `report`, `report --paper`, `verify` and `gc` import nothing its
plan.json names (`plugins`, `plugin_paths`); a plugin comes only from `--plugins`; `pack` writes no machine paths."""

from __future__ import annotations

import json
import sys

import pytest

import tasks
from harness.store.pack import pack
from laebench.fingerprint import fingerprint
from tests.conftest import run

RECORD = {
    "trial_id": "e/ae/seed0",
    "experiment": "e",
    "task": "reconstruction",
    "label": "ae",
    "seed": 0,
    "status": "ok",
    "metrics": [{"metric": "mse", "value": 0.1}],
    "dataset": "d",
    "arch": "mlp",
    "method_key": "ae",
    "config_hash": "abc",
}


def planted_folder(tmp_path):
    """A report folder whose plan.json names a planted module (next to it and in `plugin_paths`) and `this`."""
    code, run_dir = tmp_path / "code", tmp_path / "res" / "run"
    (run_dir / "trials").mkdir(parents=True)
    code.mkdir()
    marker = tmp_path / "MARKER"
    planted = f"open({str(marker)!r}, 'a').write('ran')\n"
    (code / "planted_37.py").write_text(planted)
    (run_dir / "planted_37.py").write_text(planted)
    record = {**RECORD, "code": {"task": fingerprint(tasks.get("reconstruction"))}}
    (run_dir / "trials" / "e__ae__seed0.json").write_text(json.dumps(record))
    plan = {
        "grid": "run",
        "source": str(tmp_path / "grid.yaml"),
        "plugins": ["planted_37", "this"],
        "plugin_paths": [str(code), str(run_dir)],
        "experiments": {},
        "models": [],
        "trials": [{"trial_id": "e/ae/seed0", "config_hash": "abc"}],
    }
    (run_dir / "plan.json").write_text(json.dumps(plan))
    return run_dir, marker


@pytest.mark.parametrize(
    "command",
    [["report", "{run}"], ["report", "{run}", "--paper"], ["verify", "{res}"], ["gc", "{res}"]],
    ids=["report", "report-paper", "verify", "gc"],
)
def test_reading_a_folder_imports_nothing_it_names(command, tmp_path, capsys):
    run_dir, marker = planted_folder(tmp_path)
    had_this = "this" in sys.modules
    args = [a.format(run=run_dir, res=run_dir.parent) for a in command]
    code, out = run(capsys, *args)
    assert code == 0, out
    assert not marker.exists(), "a module named in plan.json ran"
    assert "planted_37" not in sys.modules and ("this" in sys.modules) == had_this
    assert "Beautiful is better than ugly" not in out


def test_report_imports_only_the_plugins_named_on_its_command_line(
    tmp_path, capsys, monkeypatch, scoped_registries
):
    run_dir, marker = planted_folder(tmp_path)
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "named_37.py").write_text(
        f"open({str(tmp_path / 'NAMED')!r}, 'a').write('ran')\n"
    )
    monkeypatch.chdir(tmp_path / "work")
    code, out = run(capsys, "report", run_dir, "--plugins", "named_37")
    assert code == 0, out
    assert (tmp_path / "NAMED").read_text() == "ran" and not marker.exists()
    code, out = run(capsys, "report", run_dir, "--plugins", "missing_37")
    assert code == 2 and "error: Cannot import plugin module 'missing_37'" in out


def test_pack_writes_no_machine_paths(tmp_path):
    run_dir, _ = planted_folder(tmp_path)
    pack(run_dir, tmp_path / "packed")
    packed = json.loads((tmp_path / "packed" / "plan.json").read_text())
    assert "plugin_paths" not in packed and packed["source"] == "grid.yaml"
    assert str(tmp_path) not in (tmp_path / "packed" / "plan.json").read_text()
    assert packed["trials"] == [{"trial_id": "e/ae/seed0", "config_hash": "abc"}]
    assert not list((tmp_path / "packed").rglob("*.py"))
    assert "plugin_paths" in json.loads(
        (run_dir / "plan.json").read_text()
    )  # the source is untouched
