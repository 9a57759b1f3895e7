"""The README's first command: the embedded demo grid, run twice in a subprocess (the second trains nothing)."""

import re

import pandas as pd

import methods
import tasks
from tests.conftest import run_cli


def _builtin(registry, package: str) -> set[str]:
    """Keys of the classes the package itself defines."""
    return {key for key, cls in registry.items() if cls.__module__.startswith(package)}


def test_builtin_keys_are_the_packages_own():
    assert {"ae", "lae_online"} <= _builtin(methods.METHODS, "methods.")
    with methods.registered(
        "demo_test_plugin", type("Plugin", (methods.get("ae"),), {"__module__": "my_plugin"})
    ):
        assert "demo_test_plugin" not in _builtin(methods.METHODS, "methods.")


def test_demo_grid_end_to_end_and_rerun_trains_nothing(tmp_path, ray_address):
    results = tmp_path / "results"
    first = run_cli("run", "--results", results, "--address", ray_address, timeout=900)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    printed = (first.stdout + first.stderr).splitlines()  # not a terminal: plain lines
    assert len(printed) <= 40 and "Traceback" not in first.stdout + first.stderr, printed
    assert not any("Warning" in line or "\r" in line for line in printed), printed
    assert any(line.startswith("ood-digits") for line in printed)  # the summary table
    run_dir = results / "demo"
    board = pd.read_csv(run_dir / "leaderboard.csv")
    assert (run_dir / "leaderboard.md").exists() and (run_dir / "raw.csv").exists()
    # every built-in method and task appears (plugins registered by other tests in this process do not count)
    assert _builtin(tasks.TASKS, "tasks.") <= set(board.task)
    assert _builtin(methods.METHODS, "methods.") <= set(board.method)
    raw = pd.read_csv(run_dir / "raw.csv")
    assert (raw.status == "ok").all(), raw[raw.status != "ok"][["trial_id", "error"]]
    ood = board[(board.task == "ood") & (board.metric == "auroc/log_px")]
    assert ood["mean"].between(0, 1).all() and len(ood) == 7
    # the plain AE has no variance: its cells are empty, not zero
    assert board[
        (board.task == "ood") & (board.method == "ae") & board.metric.str.contains("sigma2")
    ].empty
    assert "slope_time" in set(
        board[board.task == "hessian_scaling"].metric
    )  # cross-trial rows (Task.summarize)
    assert (run_dir / "artifacts" / "hessian-scaling" / "scaling.png").exists()

    second = run_cli("run", "--results", results, "--address", ray_address, timeout=600)
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-4000:]
    assert len((second.stdout + second.stderr).splitlines()) <= 12, second.stdout + second.stderr
    assert (run_dir / "logs").is_dir() and list(
        (run_dir / "logs").rglob("*.log")
    )  # worker output, on disk
    m = re.search(r"models: (\d+) needed, (\d+) cached, 0 to train", second.stdout)
    assert m and m.group(1) == m.group(2), second.stdout
    assert re.search(r"evaluations: (\d+) planned, \1 done, 0 to run", second.stdout), second.stdout
