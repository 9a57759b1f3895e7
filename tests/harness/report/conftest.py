"""The report tests' shared run: a tiny real grid (every task, two seeds) trained and evaluated in this process, once
per test worker, with its report."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest

from harness.execution.context import RunContext

TINY = textwrap.dedent("""
    name: tiny
    seeds: [0, 1]
    train: {max_epochs: 2, batch_size: 32}
    experiments:
      - name: ood
        task: ood
        task_params: {n_samples: 4, max_test: 40, typicality_train: 100}
        data: {train: {name: synthetic, classes: [0, 1]}, ood: {name: synthetic, classes: [2, 3]}}
        model: &mlp {arch: mlp, latent_dim: 2, hidden: [16, 8]}
        methods: &methods {ae: {}, vae: {}, mc_ae: {},
                           lae_online: {hessian: exact, train: {snapshot_every: 1}}}
      - name: ood-epochs  # the online LAE's snapshots: Table 3's AUROC-along-training figure
        task: ood
        task_params: {n_samples: 4, max_test: 40, typicality_train: 100}
        data: {train: {name: synthetic, classes: [0, 1]}, ood: {name: synthetic, classes: [2, 3]}}
        model: *mlp
        seeds: [0]
        snapshots: [1, 2]
        methods: {lae_online: {hessian: exact, train: {snapshot_every: 1}}}
      - name: knn
        task: knn
        task_params: {labels_per_class: [1, 2, 5], repetitions: 2, n_embed: 4}
        data: {train: {name: synthetic, classes: [0, 1]}}
        model: *mlp
        methods: *methods
      - name: quality
        task: hessian_quality
        task_params: {n_samples: 4}
        data: {train: {name: synthetic, classes: [0, 1]}}
        model: *mlp
        methods: {lae_posthoc_exact: {method: lae_posthoc, hessian: exact},
                  lae_online_exact: {method: lae_online, hessian: exact}}
      - name: imputation
        task: imputation
        task_params: {max_test: 16, n_first: 2, n_refine: 2, n_iterations: 2, classifier_epochs: 1}
        data: {train: {name: synthetic, classes: [0, 1]}}
        model: *mlp
        methods: {mc_ae: {}, lae_online: {hessian: exact}}
      - name: scaling
        task: hessian_scaling
        # 5 MB: the exact diagonal's 16x16 point is over budget by its estimate, approx's is not
        task_params: {modes: [exact, approx], sides: [8, 16], repeats: 1, memory_budget_gb: 0.005, fit_min_side: 8}
        seeds: [0]
""")


def run_in_process(grid_path, results):
    """The grid through the harness's own trial functions, in this process and without Ray (seconds, not minutes)."""
    from harness.execution.trials.evaluate import eval_trial
    from harness.execution.trials.train import train_model
    from harness.grid.config import load_grid
    from harness.grid.plan import make_plan, serialise
    from harness.store.records import write_plan

    grid = load_grid(grid_path)
    plan = make_plan(grid)
    run_dir = results / grid.name
    run_dir.mkdir(parents=True)
    write_plan(run_dir, serialise(plan, grid))
    common = RunContext(models_dir=str(results / "models"), run_dir=str(run_dir))
    for spec in plan.models:
        train_model(spec, common, report=lambda metrics: None)
    experiments = {e.name: dataclasses.asdict(e) for e in grid.experiments}
    for job in plan.evals:
        eval_trial(
            {
                "job": job.to_config(),
                "context": common,
                "experiment": experiments[job.experiment],
                "cpus": 1,
            }
        )
    return run_dir


@pytest.fixture(scope="package")
def tiny_report(tmp_path_factory):
    from harness.cli import main

    root = tmp_path_factory.mktemp("report")
    (root / "tiny.yaml").write_text(TINY)
    run_dir = run_in_process(root / "tiny.yaml", root / "res")
    assert main(["report", str(run_dir), "--paper"]) == 0
    return run_dir
