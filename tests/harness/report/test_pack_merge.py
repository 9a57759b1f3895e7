"""`pack --merge`: a grid run in parts (seed 0 on one machine, seed 1 on another, packed there) packs into the
report the whole run gives; parts that are not one grid's (another setting, another code, a trial of another configuration) are
refused in one line, before anything is written."""

from __future__ import annotations

import json
import shutil

import pytest

from harness.cli import main
from harness.grid.config import load_grid
from harness.grid.plan import make_plan, serialise
from harness.store.records import artifacts_dir, record_path, write_plan
from tests.harness.report.conftest import TINY


def _part(tiny_report, folder, seeds: str, grid_text: str = TINY):
    """The folder a run of the tiny grid with only `seeds` leaves (its own plan, as `run` writes it; the records and
    per-input tables of those trials: a seed's trial is the same configuration whichever seeds run beside it)."""
    (folder / "res").mkdir(parents=True)
    (folder / "part.yaml").write_text(grid_text.replace("seeds: [0, 1]", f"seeds: {seeds}", 1))
    grid = load_grid(folder / "part.yaml")
    plan = serialise(make_plan(grid), grid)
    run_dir = folder / "res" / grid.name
    (run_dir / "trials").mkdir(parents=True)
    write_plan(run_dir, plan)
    full = {
        t["trial_id"]: t["config_hash"]
        for t in json.loads((tiny_report / "plan.json").read_text())["trials"]
    }
    for trial in plan["trials"]:
        assert (
            full[trial["trial_id"]] == trial["config_hash"]
        )  # the seeds a grid lists enter no trial's hash
        shutil.copy(
            record_path(tiny_report, trial["trial_id"]), record_path(run_dir, trial["trial_id"])
        )
        source = artifacts_dir(tiny_report, trial["trial_id"])
        if source.is_dir():
            shutil.copytree(source, artifacts_dir(run_dir, trial["trial_id"]))
    return run_dir


def _verdict_lines(folder):
    text = (folder / "reproduction.md").read_text()
    return [
        line for line in text.splitlines() if line.startswith("|") or line.startswith("**Verdict")
    ]


def test_parts_of_a_grid_pack_into_the_whole_runs_report(tiny_report, tmp_path):
    first, second = (
        _part(tiny_report, tmp_path / "a", "[0]"),
        _part(tiny_report, tmp_path / "b", "[1]"),
    )
    whole, merged = tmp_path / "whole", tmp_path / "merged"
    assert main(["pack", str(tiny_report), str(whole)]) == 0
    assert main(["pack", str(first), str(merged)]) == 0
    assert (
        main(["pack", str(second), str(tmp_path / "second")]) == 0
    )  # packed where it ran, merged from there
    assert main(["pack", str(tmp_path / "second"), str(merged), "--merge"]) == 0
    trials = lambda folder: {p.name for p in (folder / "trials").glob("*.json")}  # noqa: E731
    assert trials(merged) == trials(whole) and trials(first) < trials(whole)
    plan, full = (json.loads((f / "plan.json").read_text()) for f in (merged, whole))
    assert sorted(plan["trials"], key=str) == sorted(full["trials"], key=str)
    assert set(plan["model_keys"]) == set(full["model_keys"])
    assert plan["experiments"]["ood"]["seeds"] == [0, 1]
    assert {m["label"]: m["seeds"] for m in plan["experiments"]["ood"]["methods"]} == {
        m["label"]: m["seeds"] for m in full["experiments"]["ood"]["methods"]
    }
    assert main(["report", str(whole), "--paper"]) == 0
    assert main(["report", str(merged), "--paper"]) == 0
    assert _verdict_lines(merged) == _verdict_lines(whole)
    assert (merged / "leaderboard.md").read_text() == (whole / "leaderboard.md").read_text()
    tables = lambda folder: sorted(  # noqa: E731  (each trial's per-input tables)
        p.relative_to(folder) for p in folder.glob("artifacts/*/*/*/*.csv.gz")
    )
    assert tables(merged) == tables(whole) and tables(whole)


@pytest.mark.parametrize(
    "spoil, names",
    [
        (
            lambda plan, rec: plan["experiments"]["ood"]["task_params"].update(max_test=41),
            "task_params",
        ),
        (
            lambda plan, rec: plan["experiments"]["ood"]["methods"][1]["params"].update(
                kl_weight=2.0
            ),
            "vae",
        ),
        (lambda plan, rec: plan.update(grid="other"), "grid"),
        (lambda plan, rec: rec["code"].update(method="0000"), "other method code"),
    ],
    ids=["experiment-setting", "method-setting", "grid", "code"],
)
def test_parts_of_different_grids_or_code_are_refused(tiny_report, tmp_path, capsys, spoil, names):
    first, second = (
        _part(tiny_report, tmp_path / "a", "[0]"),
        _part(tiny_report, tmp_path / "b", "[1]"),
    )
    plan = json.loads((second / "plan.json").read_text())
    path = record_path(second, "ood/vae/seed1")
    record = json.loads(path.read_text())
    spoil(plan, record)
    (second / "plan.json").write_text(json.dumps(plan))
    path.write_text(json.dumps(record))
    dest = tmp_path / "merged"
    assert main(["pack", str(first), str(dest)]) == 0
    before = sorted((p.name, p.stat().st_size) for p in dest.rglob("*"))
    capsys.readouterr()
    assert main(["pack", str(second), str(dest), "--merge"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot merge") and names in err[0], err
    assert sorted((p.name, p.stat().st_size) for p in dest.rglob("*")) == before  # nothing written


def test_a_trial_of_another_configuration_or_no_pack_to_merge_into_is_refused(
    tiny_report, tmp_path, capsys
):
    first, second = (
        _part(tiny_report, tmp_path / "a", "[0]"),
        _part(tiny_report, tmp_path / "b", "[0, 1]"),
    )
    plan = json.loads((second / "plan.json").read_text())
    plan["trials"][0]["config_hash"] = "000000000000"
    (second / "plan.json").write_text(json.dumps(plan))
    dest = tmp_path / "merged"
    assert main(["pack", str(first), str(dest)]) == 0
    capsys.readouterr()
    assert main(["pack", str(second), str(dest), "--merge"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and plan["trials"][0]["trial_id"] in err and "config hash" in err, (
        err
    )
    assert main(["pack", str(first), str(tmp_path / "empty"), "--merge"]) == 2
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1
        and "--merge needs a plan.json" in err
        and not (tmp_path / "empty").exists()
    )


def test_a_merge_names_the_package_versions_that_differ_between_the_parts(
    tiny_report, tmp_path, capsys
):
    first, second = (
        _part(tiny_report, tmp_path / "a", "[0]"),
        _part(tiny_report, tmp_path / "b", "[1]"),
    )
    for path in (second / "trials").glob("*.json"):
        record = json.loads(path.read_text())
        versions = dict(item.split("=", 1) for item in record["versions"].split(";"))
        old = versions["torch"]
        versions.update(torch="9.9.9", newpkg="1.0")
        record["versions"] = ";".join(f"{k}={v}" for k, v in versions.items())
        path.write_text(json.dumps(record))
    dest = tmp_path / "merged"
    assert main(["pack", str(first), str(dest)]) == 0
    capsys.readouterr()
    assert main(["pack", str(second), str(dest), "--merge"]) == 0
    note = capsys.readouterr().out.splitlines()[0]
    assert note == (
        f"note: the merged records were made with other package versions: newpkg none -> 1.0; torch {old} -> 9.9.9"
    )


def test_a_stale_record_left_in_the_run_folder_does_not_block_the_merge(tiny_report, tmp_path):
    """A record of an earlier version of the grid (not in the run's plan as planned) is no part's code."""
    first, second = (
        _part(tiny_report, tmp_path / "a", "[0]"),
        _part(tiny_report, tmp_path / "b", "[1]"),
    )
    path = record_path(second, "ood/vae/seed1")
    stale = json.loads(path.read_text())
    stale.update(config_hash="000000000000", trial_id="ood/vae/seed7")
    stale["code"]["method"] = "0000"
    record_path(second, "ood/vae/seed7").write_text(json.dumps(stale))
    dest = tmp_path / "merged"
    assert main(["pack", str(first), str(dest)]) == 0
    assert main(["pack", str(second), str(dest), "--merge"]) == 0
