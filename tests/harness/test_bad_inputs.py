"""Bad command lines, environments, paths, data files, clusters and results folders: exit 2 with one `error:` line."""

from __future__ import annotations

import pytest

from tests.harness.bad_inputs import (
    DRY,
    GPU_CASE,
    RECORD,
    TRUNCATED_GZ,
    check,
    exp,
    grid,
)

CASES = [
    # --- the command line ---------------------------------------------------------------------------------------
    ("no_command", None, {}, [], {}, "required: command"),
    ("unknown_command", None, {}, ["frobnicate"], {}, "invalid choice: 'frobnicate'"),
    ("unknown_flag", grid(), {}, [*DRY, "--bogus"], {}, "unrecognized arguments: --bogus"),
    ("flag_without_value", None, {}, ["run", "--grid"], {}, "--grid: expected one argument"),
    ("address_malformed", grid(), {}, [*DRY[:-1], "--address", "nohostport"], {}, "HOST:PORT"),
    (
        "address_unreachable",
        grid(),
        {},
        [*DRY[:-1], "--address", "127.0.0.1:{free_port}"],
        {},
        "no Ray head node answers",
    ),
    ("env_lock_lease", grid(), {}, DRY, {"LAEBENCH_LOCK_LEASE_S": "soon"}, "LAEBENCH_LOCK_LEASE_S"),
    ("env_num_cpus", grid(), {}, DRY, {"LAEBENCH_NUM_CPUS": "many"}, "LAEBENCH_NUM_CPUS"),
    # --- results and store folders -------------------------------------------------------------------------------
    (
        "results_is_a_file",
        grid(),
        {"afile": "x"},
        ["run", "--grid", "{grid}", "--results", "{tmp}/afile"],
        {},
        "is a file, not a folder",
    ),
    (
        "results_under_a_file",
        grid(),
        {"afile": "x"},
        ["run", "--grid", "{grid}", "--results", "{tmp}/afile/sub"],
        {},
        "is a file, so the folder cannot be created",
    ),
    (
        "results_not_writable",
        grid(),
        {},
        ["run", "--grid", "{grid}", "--results", "{tmp}/locked/res"],
        {},
        "no permission to write",
    ),
    ("report_missing_folder", None, {}, ["report", "{tmp}/nope"], {}, "No trial records"),
    ("verify_missing_folder", None, {}, ["verify", "{tmp}/nope"], {}, "is not a folder"),
    (
        "verify_not_a_store",
        None,
        {"empty/.keep": ""},
        ["verify", "{tmp}/empty"],
        {},
        "holds no model entries",
    ),
    ("verify_a_file", None, {"afile": "x"}, ["verify", "{tmp}/afile"], {}, "is not a folder"),
    ("gc_missing_folder", None, {}, ["gc", "{tmp}/nope"], {}, "is not a folder"),
    (
        "gc_a_grid_folder",
        None,
        {"run/trials/e__ae__seed0.json": RECORD},
        ["gc", "{tmp}/run"],
        {},
        "holds no models/ folder and no grid folder",
    ),
    (
        "verify_unknown_plugin",
        None,
        {"res/run/trials/e__ae__seed0.json": RECORD},
        ["verify", "{tmp}/res", "--plugins", "nope_37"],
        {},
        "Cannot import plugin module 'nope_37'",
    ),
    # --- names and paths --------------------------------------------------------------------------------------------
    (
        "experiment_name_nul",
        grid(exp=exp(name='"a\\0b"')),
        {},
        DRY,
        {},
        "experiments[0].name must be a name",
    ),
    (
        "experiment_name_newline",
        grid(exp=exp(name='"a\\nb"')),
        {},
        DRY,
        {},
        "experiments[0].name must be a name",
    ),
    (
        "experiment_name_300_chars",
        grid(exp=exp(name="e" * 300)),
        {},
        DRY,
        {},
        "at most 100 characters",
    ),
    (
        "grid_name_300_chars",
        grid().replace("name: bad", "name: " + "g" * 300),
        {},
        DRY,
        {},
        "at most 100 characters",
    ),
    (
        "method_label_300_chars",
        grid(exp=exp(methods="{" + "m" * 300 + ": {method: ae}}")),
        {},
        DRY,
        {},
        "at most 100 characters",
    ),
    (
        "results_symlink_loop",
        grid(),
        {},
        ["run", "--grid", "{grid}", "--results", "{tmp}/loop/res", "--dry-run"],
        {},
        "--results {tmp}/loop/res is a symlink loop",
    ),
    (
        "data_root_symlink_loop",
        grid(),
        {},
        [*DRY, "--data-root", "{tmp}/loop"],
        {},
        "is a symlink loop",
    ),
    (
        "env_data_is_a_file",
        grid(),
        {"afile": "x"},
        DRY,
        {"LAEBENCH_DATA": "{tmp}/afile"},
        "LAEBENCH_DATA=",
    ),
    (
        "env_cache_is_a_file",
        grid(),
        {"afile": "x"},
        DRY,
        {"LAEBENCH_CACHE": "{tmp}/afile"},
        "LAEBENCH_CACHE=",
    ),
    # --- data files ---------------------------------------------------------------------------------------------
    (
        "data_gz_truncated",
        grid(exp=exp(data="{train: mnist}")),
        TRUNCATED_GZ,
        [*DRY, "--data-root", "{tmp}/data"],
        {},
        "train-images-idx3-ubyte.gz is truncated. Replace it with an intact copy",
    ),
    # --- cluster ------------------------------------------------------------------------------------------------
    (
        "address_auto_stale_env",
        grid(),
        {},
        [*DRY[:-1], "--address", "auto"],
        {"RAY_ADDRESS": "127.0.0.1:{free_port}"},
        "--address auto (RAY_ADDRESS: 127.0.0.1:",
    ),
    # --- report and verify agree ----------------------------------------------------------------------------------
    (
        "report_no_records",
        None,
        {"run/trials/.keep": ""},
        ["report", "{tmp}/run"],
        {},
        "No trial records",
    ),
    (
        "report_damaged_record",
        None,
        {"run/trials/e__ae__seed0.json": '{"trial_id": "e/a'},
        ["report", "{tmp}/run"],
        {},
        "e__ae__seed0.json: unreadable trial record",
    ),
    (
        "report_record_not_a_mapping",
        None,
        {"run/trials/x.json": "[1, 2]"},
        ["report", "{tmp}/run"],
        {},
        "x.json: damaged trial record",
    ),
    (
        "report_damaged_plan",
        None,
        {"run/trials/e__ae__seed0.json": RECORD, "run/plan.json": '{"trials": [{"tri'},
        ["report", "{tmp}/run"],
        {},
        "plan.json: unreadable plan",
    ),
    (
        "verify_no_records",
        None,
        {"run/trials/.keep": ""},
        ["verify", "{tmp}/run"],
        {},
        "holds no model entries",
    ),
]
CASES.append(GPU_CASE)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_exit_2(case, tmp_path, monkeypatch, capsys, request):
    check(case, tmp_path, monkeypatch, capsys, request)
