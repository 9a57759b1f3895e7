"""Hyper-parameter search: spaces validated up front (exit 2, key path), the choice made on validation data only
(a poisoned test split leaves it unchanged), a rerun that searches and trains nothing, a search that finds
nothing recorded without losing other results, and Tune retries (`max_failures`). Grids are tiny (synthetic
data, 1-2 epochs) and share the session's Ray instance; the two-node search is in `test_cluster.py`."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import types
from pathlib import Path

import pandas as pd
import pytest

from harness.cli import main
from harness.execution.context import RunContext
from harness.execution.search.plan import plan_searches
from harness.execution.search.run import run_searches
from harness.grid.checks import ConfigError
from harness.grid.config import load_grid, parse_grid
from harness.grid.spaces import concrete
from harness.store.locks import lock_settings
from tests.conftest import run_cli


def grid_dict(
    methods: dict, search: dict | None = None, train: dict | None = None, task: str = "ood"
) -> dict:
    data = (
        {
            "train": {"name": "synthetic", "classes": [0, 1]},
            "ood": {"name": "synthetic", "classes": [2, 3]},
        }
        if task == "ood"
        else {"train": "synthetic"}
    )
    exp = {
        "name": "e",
        "task": task,
        "data": data,
        "model": {"arch": "mlp", "latent_dim": 2, "hidden": [16, 8]},
        "methods": methods,
    }
    if search is not None:
        exp["search"] = search
    return {
        "name": "g",
        "seeds": [0],
        "train": train or {"max_epochs": 2, "batch_size": 32},
        "experiments": [exp],
    }


@pytest.mark.parametrize(
    "methods, search, train, message",
    [
        (
            {"lae_online": {"prior_precision": {"loguniform": [0, 1]}}},
            None,
            None,
            "experiments[0].methods.lae_online.prior_precision.loguniform must have a positive low bound",
        ),
        (
            {"lae_online": {"prior_precision": {"uniform": [-1, 1]}}},
            None,
            None,
            "experiments[0].methods.lae_online.prior_precision: the space {'uniform': [-1.0, 1.0]} can produce -1.0",
        ),
        (
            {"lae_online": {"prior_precision": {"logunifrom": [1, 2]}}},
            None,
            None,
            "experiments[0].methods.lae_online.prior_precision must be a value or a search space",
        ),
        (
            {"mc_ae": {"p": {"uniform": [0.5, 0.1]}}},
            None,
            None,
            "experiments[0].methods.mc_ae.p.uniform must be two numbers [low, high] with low < high",
        ),
        (
            {"ensemble": {"size": {"randint": [1, 4]}}},
            None,
            None,
            "experiments[0].methods.ensemble.size: the space {'randint': [1, 4]} can produce 1",
        ),
        (
            {"ae": {"train": {"lr": {"choice": []}}}},
            None,
            None,
            "experiments[0].methods.ae.train.lr.choice must be a non-empty list",
        ),
        ({"ae": {}}, None, {"lr": {"uniform": [-1.0, 1.0]}}, "train.lr: the space"),
        (
            {"ae": {}},
            {"scheduler": "hyperband"},
            None,
            "experiments[0].search.scheduler.name must be fifo or asha",
        ),
        (
            {"ae": {}},
            {"num_samples": 0},
            None,
            "experiments[0].search.num_samples must be a positive integer",
        ),
        ({"ae": {}}, {"metric": "auroc"}, None, "experiments[0].search.metric must be 'val_loss'"),
        (
            {"ae": {}},
            {"scheduler": {"name": "fifo", "grace_period": 2}},
            None,
            "fifo takes no options",
        ),
        ({"ae": {}}, {"budget": 3}, None, "experiments[0].search: unknown key"),
        (
            {"mc_ae": {"p": {"grid": [0.1, 0.2]}}},
            {"search_alg": "optuna"},
            None,
            "experiments[0].methods.mc_ae.p is a grid: space, which search_alg: optuna cannot enumerate",
        ),
    ],
)
def test_bad_spaces_and_search_blocks_name_their_key_path(
    methods, search, train, message, monkeypatch
):
    monkeypatch.setitem(
        sys.modules, "optuna", types.ModuleType("optuna")
    )  # an optional extra: not needed to parse
    with pytest.raises(ConfigError) as err:
        parse_grid(grid_dict(methods, search, train))
    assert str(err.value).startswith(message) or message in str(err.value), str(err.value)


def test_task_metric_needs_a_validation_split():
    raw = grid_dict(
        {"ae": {"train": {"lr": {"choice": [1.0e-3, 1.0e-2]}}}},
        {"metric": "task:mse"},
        task="reconstruction",
    )
    with pytest.raises(
        ConfigError,
        match=r"experiments\[0\]\.search\.metric names a metric of task "
        r"'reconstruction', which has no validation split",
    ):
        parse_grid(raw)


def test_cli_exits_2_on_a_bad_space(tmp_path):
    bad = grid_dict({"lae_online": {"alpha": {"uniform": [0.5, 2.0]}}})
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps(bad))  # JSON is YAML
    proc = run_cli("run", "--grid", path, "--results", tmp_path / "res")
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "error: experiments[0].methods.lae_online.alpha: the space {'uniform': [0.5, 2.0]} can produce 2.0"
        )
    )


def test_searches_are_planned_once_per_seed_and_shared_by_experiments():
    raw = grid_dict(
        {"lae_online": {"prior_precision": {"loguniform": [0.1, 10.0]}}, "ae": {}},
        {"num_samples": 3, "scheduler": "asha"},
    )
    raw["seeds"] = [0, 1]
    raw["experiments"].append(
        {**raw["experiments"][0], "name": "e2", "task_params": {"n_samples": 4}}
    )
    grid = parse_grid(raw)
    searches = plan_searches(grid)
    assert [s.users for s in searches] == [
        [("e", "lae_online", 0), ("e2", "lae_online", 0)],
        [("e", "lae_online", 1), ("e2", "lae_online", 1)],
    ]
    assert searches[0].spaces == {"params.prior_precision": {"loguniform": [0.1, 10.0]}}
    assert searches[0].settings.scheduler == {
        "name": "asha",
        "grace_period": 1,
        "reduction_factor": 3,
    }
    spec = concrete(searches[0].base, {"params.prior_precision": 2.0})
    assert spec.params["prior_precision"] == 2.0 and spec == grid.experiments[0].spec(
        grid.experiments[0].methods[0], 0
    ).replace(params={**spec.params})


POISON = textwrap.dedent('''
    """Replace every dataset's test split by noise, in the driver and in every Ray worker."""
    import dataclasses
    import os
    from pathlib import Path
    import torch
    import harness.datasets
    import harness.execution.trials.worker

    _load = harness.datasets.load_dataset
    MARKS = Path(__file__).parent / "poisoned"

    def poisoned(*args, **kwargs):
        MARKS.mkdir(exist_ok=True)
        (MARKS / str(os.getpid())).touch()  # which processes loaded poisoned data
        data = _load(*args, **kwargs)
        noise = torch.rand(data.test_x.shape, generator=torch.Generator().manual_seed(7))
        return dataclasses.replace(data, test_x=noise, test_y=data.test_y.flip(0))

    harness.datasets.load_dataset = harness.execution.trials.worker.load_dataset = poisoned
''')

FLAKY = textwrap.dedent('''
    """`flaky_ae` fails its first training (a marker file remembers); `broken_ae` always fails."""
    from pathlib import Path
    import methods

    MARK = Path(__file__).parent / "attempts"

    @methods.register("flaky_ae")
    class FlakyAE(methods.get("ae")):
        description = "ae whose first training raises"

        def _fit(self, data, dependencies, reporter, checkpoint_path):
            MARK.mkdir(exist_ok=True)
            n = len(list(MARK.iterdir()))
            (MARK / str(n)).touch()
            if n == 0:
                raise RuntimeError("pre-empted")
            super()._fit(data, dependencies, reporter, checkpoint_path)

    @methods.register("broken_ae")
    class BrokenAE(methods.get("ae")):
        description = "ae that never trains"

        def _fit(self, data, dependencies, reporter, checkpoint_path):
            raise RuntimeError("diverged")
''')


SEARCHED = {"lae_online": {"hessian": "exact", "prior_precision": {"grid": [1.0e-2, 1.0e2]}}}


def _run(capsys, *args) -> tuple[int, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out + out.err


def _search_grid(tmp_path: Path, name: str, plugins: list[str], failures: bool) -> Path:
    """An OOD experiment searching lae_online (chosen by validation AUROC); with `failures`, a reconstruction
    experiment with `flaky_ae` (fails once: Tune retries it, max_failures 1) and a search of `broken_ae`."""
    raw = grid_dict(SEARCHED, {"num_samples": 1, "metric": "task:auroc/sigma2_output"})
    raw.update(name=name, plugins=plugins)
    if failures:
        raw["max_failures"] = 1
        raw["experiments"].append(
            {
                **grid_dict({}, task="reconstruction")["experiments"][0],
                "name": "r",
                "search": {"num_samples": 1},
                "methods": {"flaky_ae": {}, "broken_ae": {"train": {"lr": {"grid": [1.0e-3]}}}},
            }
        )
    path = tmp_path / f"{name}.yaml"
    path.write_text(json.dumps(raw))
    return path


def test_choice_ignores_the_test_split_failures_are_retried_or_recorded_and_a_rerun_searches_nothing(
    tmp_path, ray_address, capsys, scoped_registries, monkeypatch
):
    import harness.datasets
    import harness.execution.trials.worker

    for module in (
        harness.datasets,
        harness.execution.trials.worker,
    ):  # the poison plugin patches them in this process too: undo after
        monkeypatch.setattr(module, "load_dataset", module.load_dataset)
    (tmp_path / "poison.py").write_text(POISON)
    (tmp_path / "flaky.py").write_text(FLAKY)
    clean = _search_grid(tmp_path, "clean", ["flaky"], failures=True)
    poisoned = _search_grid(tmp_path, "poisoned", ["poison"], failures=False)
    code, out = _run(
        capsys, "run", "--grid", clean, "--results", tmp_path / "a", "--address", ray_address
    )
    assert code == 1, out  # broken_ae's search found nothing
    # the same search with every dataset's test split replaced by noise, in the driver and in every worker
    results_b = tmp_path / "b"
    common = RunContext(
        models_dir=str(results_b / "models"),
        run_dir=str(results_b / "poisoned"),
        plugins=("poison",),
        plugin_paths=(str(tmp_path),),
        run_id="poisoned",
        lock=lock_settings(),
    )
    assert run_searches(load_grid(poisoned), results_b, common, log=lambda line: None) == {}
    assert any(
        int(p.name) != os.getpid() for p in (tmp_path / "poisoned").iterdir()
    )  # workers loaded poison
    a = pd.read_csv(tmp_path / "a" / "clean" / "searches.csv").iloc[0]
    b = json.loads(next((results_b / "searches").glob("*.json")).read_text())
    assert json.loads(a.chosen) == b["best"]["config"] and a.best_value == b["best"]["value"]
    assert (a.finished, b["finished"]) == (2, 2)
    raw = {"clean": pd.read_csv(tmp_path / "a" / "clean" / "raw.csv")}
    assert "## Searches" in (tmp_path / "a" / "clean" / "leaderboard.md").read_text()
    assert list(
        (tmp_path / "a" / "clean" / ".tune").glob("search-*/*/events.out.tfevents*")
    )  # TensorBoard
    record = json.loads(
        next((tmp_path / "a" / "clean" / "trials").glob("*lae_online*.json")).read_text()
    )
    assert (
        record["method_params"]["prior_precision"] == json.loads(a.chosen)["params.prior_precision"]
    )
    assert record["model_key"] == a.model_key

    # failures: flaky_ae failed once, Tune retried it and it trained; broken_ae's search is recorded as failed
    status = raw["clean"].groupby("method").status.first().to_dict()
    assert status == {"lae_online": "ok", "flaky_ae": "ok", "broken_ae": "failed"}, status
    assert len(list((tmp_path / "attempts").iterdir())) == 2
    error = raw["clean"][raw["clean"].method == "broken_ae"].error.iloc[0]
    assert (
        error
        == "search failed: no trial finished with a finite val_loss; trial errors: RuntimeError: diverged"
    )
    code, out = _run(capsys, "verify", tmp_path / "a")  # the failed search is listed with its error
    assert code == 1 and "searches: 2 stored, 1 to search again" in out, out
    assert (
        "search again broken_ae-" in out
        and "failed: no trial finished with a finite val_loss" in out
    ), out

    summary = next(p for p in (tmp_path / "a" / "searches").glob("lae_online-*.json"))
    stamp = summary.stat().st_mtime_ns
    code, out = _run(
        capsys, "run", "--grid", clean, "--results", tmp_path / "a", "--address", ray_address
    )
    assert code == 1 and "searches: 1 to run" in out, (
        out
    )  # only broken_ae's failed search is tried again
    assert "0 to train" in out and "0 to run" in out, out
    assert summary.stat().st_mtime_ns == stamp
