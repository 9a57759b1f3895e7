"""What ASHA saves: the same random search of `lae_online`'s prior precision x memory factor run twice, with ASHA
and with FIFO (every configuration trained to the end), in separate results folders (no shared models), then the
chosen configuration's test OOD AUROC beside the default parameters'.

MNIST in, FashionMNIST out, the paper's MLP (784-512-256-2) on `--limit` training images. Both searches sample
the same configurations (same search seed); the printed ratios are ASHA / FIFO for trained epochs and search wall
time. Needs the MNIST and FashionMNIST files under the data root.

    python -m benchmarks.search_cost --data-root ../shared/data [--samples 12 --limit 3000 --epochs 6]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pandas as pd

from harness.execution.run import run_grid
from harness.grid.config import parse_grid
from harness.report.leaderboard import write_leaderboards


def grid(name: str, scheduler: dict, args) -> dict:
    searched = {
        "method": "lae_online",
        "hessian": "exact",
        "prior_precision": {"loguniform": [1.0e-2, 1.0e2]},
        "alpha": {"loguniform": [1.0e-4, 1.0e-1]},
    }
    methods = {"lae_online_tuned": searched}
    if scheduler["name"] == "asha":
        methods["lae_online"] = {"hessian": "exact"}  # the defaults, for the AUROC comparison
    return {
        "name": name,
        "seeds": [0],
        "resources": {"cpu": 1, "gpu": 0},
        "train": {
            "lr": 1.0e-3,
            "batch_size": 64,
            "max_epochs": args.epochs,
            "early_stopping": args.epochs,
        },
        "search": {
            "num_samples": args.samples,
            "scheduler": scheduler,
            "metric": "task:auroc/sigma2_output",
            "seed": 0,
        },
        "experiments": [
            {
                "name": "ood-mnist",
                "task": "ood",
                "task_params": {"n_samples": 20, "max_test": args.max_test},
                "data": {"train": {"name": "mnist", "limit": args.limit}, "ood": "fashionmnist"},
                "model": {"arch": "mlp", "latent_dim": 2, "hidden": [512, 256]},
                "methods": methods,
            }
        ],
    }


def search_summary(results: Path) -> dict:
    return json.loads(next((results / "searches").glob("*.json")).read_text())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=os.environ.get("LAEBENCH_DATA"))
    parser.add_argument("--results", default="results/search-cost")
    parser.add_argument("--samples", type=int, default=12)
    parser.add_argument("--limit", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--max-test", type=int, default=2000)
    args = parser.parse_args(argv)
    out = Path(args.results)
    asha = {"name": "asha", "grace_period": 1, "reduction_factor": 3}
    runs = {"asha": (asha, out / "asha"), "fifo": ({"name": "fifo"}, out / "fifo")}
    summaries = {}
    for name, (scheduler, results) in runs.items():
        done = run_grid(
            parse_grid(grid(f"search-cost-{name}", scheduler, args)),
            results,
            data_root=args.data_root,
        )
        write_leaderboards(done.run_dir)
        summaries[name] = search_summary(results)
    a, f = summaries["asha"], summaries["fifo"]
    same = sorted(map(json.dumps, (t["config"] for t in a["trial_rows"]))) == sorted(
        map(json.dumps, (t["config"] for t in f["trial_rows"]))
    )
    print(
        f"\n{args.samples} configurations (same in both: {same}), MNIST MLP, {args.limit} images, "
        f"max {args.epochs} epochs"
    )
    for name, s in summaries.items():
        print(
            f"  {name}: {s['epochs']} epochs trained, {s['wall_time_s']:.0f} s, {s['finished']} finished, "
            f"{s['stopped_early']} stopped early; chosen {s['best']['config']} "
            f"(validation AUROC {s['best']['value']:.3f})"
        )
    print(
        f"  ratio ASHA / FIFO: epochs {a['epochs'] / f['epochs']:.2f}, wall time "
        f"{a['wall_time_s'] / f['wall_time_s']:.2f}"
    )
    board = pd.read_csv(runs["asha"][1] / "search-cost-asha" / "raw.csv")
    test = board[board.metric.isin(["auroc/sigma2_output", "auroc/sigma2_latent"])]
    print("  test OOD AUROC (MNIST in, FashionMNIST out):")
    print(test.pivot_table(index="method", columns="metric", values="value").round(3).to_string())


if __name__ == "__main__":
    main()
