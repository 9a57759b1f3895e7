"""Per-epoch training time of every method relative to `ae`, same data and architecture.

`python -m benchmarks.training_cost [--dataset mnist] [--arch conv] [--train-limit 5000] [--epochs 1]
[--methods ae vae lae_online:hessian=approx ...]` trains each method (after a warm-up fit on two batches)
with the shared loop and reports the mean `epoch_time_s` of its history. Methods without their own loop:
`ensemble` costs `size` x `ae` (its members are `ae` trials); `lae_posthoc` reports its one post-hoc pass
(GGN over the training set + prior optimisation) on top of the `ae`. Writes benchmarks/results/training_cost.csv
(`training_cost_<arch>.csv` for another `--arch`, e.g. `--arch mlp`).
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

import torch

from harness.datasets import DataNotFoundError, Dataset, load_dataset
from methods import ModelSpec, get
from methods.architectures import ARCHITECTURES

DEFAULT_METHODS = [
    "ae",
    "ae_likelihood",
    "vae",
    "mc_ae",
    "ensemble",
    "lae_posthoc",
    "lae_online",
    "lae_posthoc:hessian=approx",
    "lae_online:hessian=approx",
]
RESULTS = Path(__file__).resolve().parent / "results"


def parse_entry(entry: str) -> tuple[str, dict]:
    """`name:key=value,key=value` -> (name, params); values are parsed as int, float or kept as strings."""
    name, _, rest = entry.partition(":")
    params = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        for cast in (int, float):
            try:
                value = cast(value)
                break
            except ValueError:
                pass
        params[key] = value
    return name, params


def load_data(name: str, train_limit: int, val_limit: int) -> Dataset:
    root = os.environ.get("LAEBENCH_DATA", "/work/shared/data")
    try:
        data = load_dataset(name, root, train_limit=train_limit)
    except DataNotFoundError as exc:
        print(f"{exc}\nFalling back to the digits dataset.")
        data = load_dataset("digits", train_limit=train_limit)
    return Dataset(
        data.name,
        data.train_x,
        data.train_y,
        data.val_x[:val_limit],
        data.val_y[:val_limit],
        data.test_x,
        data.test_y,
        data.label_names,
    )


def _subset(data: Dataset, n: int) -> Dataset:
    return Dataset(
        data.name,
        data.train_x[:n],
        data.train_y[:n],
        data.val_x[:n],
        data.val_y[:n],
        data.test_x[:n],
        data.test_y[:n],
        data.label_names,
    )


def timed_fit(spec: ModelSpec, data: Dataset, deps: dict) -> tuple[object, float]:
    method = get(spec.method)(spec, data.image_shape)
    started = time.perf_counter()
    method.fit(data, dependencies=deps, reporter=lambda m: None)
    return method, time.perf_counter() - started


def epoch_time(spec: ModelSpec, data: Dataset, ae, batch_size: int) -> tuple[float, str]:
    """Seconds per epoch of `spec` (and a note on what was timed)."""
    cls = get(spec.method)
    dep_specs = cls.dependencies(spec)
    if spec.method == "ensemble":
        size = len(dep_specs)
        return size * ae["epoch"], f"{size} x ae: members are separate ae trials"
    deps = {
        name: ae["model"] for name in dep_specs
    }  # the only other dependent method uses the ae itself
    warm = spec.replace(train={**spec.train, "max_epochs": 1})
    timed_fit(
        warm, _subset(data, 2 * batch_size), deps
    )  # warm-up: allocator, kernels, lazy imports
    method, total = timed_fit(spec, data, deps)
    if spec.method == "lae_posthoc":
        return total, "one post-hoc pass after the ae (GGN + prior), not per epoch"
    history = method.history_
    return sum(r["epoch_time_s"] for r in history) / len(history), f"{len(history)} epoch(s)"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument(
        "--arch",
        default="conv",
        choices=sorted(ARCHITECTURES),
        help="architecture with the paper's default sizes",
    )
    parser.add_argument("--train-limit", type=int, default=5000)
    parser.add_argument(
        "--val-limit", type=int, default=500, help="validation images per epoch (kept small)"
    )
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs per method")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--methods", nargs="+", default=DEFAULT_METHODS, help="name or name:key=value,..."
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="CSV path (default: benchmarks/results/...)"
    )
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = RESULTS / (
            "training_cost.csv" if args.arch == "conv" else f"training_cost_{args.arch}.csv"
        )
    torch.set_num_threads(args.threads)

    data = load_data(args.dataset, args.train_limit, args.val_limit)
    train = {"max_epochs": args.epochs, "batch_size": args.batch_size, "early_stopping": 10**9}
    base = ModelSpec(
        "ae",
        {},
        {"name": data.name, "limit": args.train_limit},
        {"arch": args.arch, "latent_dim": 2},
        train,
        seed=0,
    )
    print(
        f"{data.name}: {len(data.train_x)} train / {len(data.val_x)} val images {tuple(data.image_shape)}, "
        f"arch {args.arch}, batch {args.batch_size}, {args.threads} thread(s)",
        flush=True,
    )
    timed_fit(
        base.replace(train={**train, "max_epochs": 1}), _subset(data, 2 * args.batch_size), {}
    )  # warm-up
    ae_model, _ = timed_fit(base, data, {})
    ae = {
        "model": ae_model,
        "epoch": sum(r["epoch_time_s"] for r in ae_model.history_) / len(ae_model.history_),
    }

    rows = []
    for entry in args.methods:
        name, params = parse_entry(entry)
        spec = base.replace(method=name, params=params)
        try:
            seconds, note = (
                (ae["epoch"], "reference")
                if entry == "ae"
                else epoch_time(spec, data, ae, args.batch_size)
            )
        except Exception as exc:  # one failing method must not hide the others' numbers
            seconds, note = (
                float("nan"),
                f"failed: {type(exc).__name__}: {' '.join(str(exc).split())[:160]}",
            )
        rows.append(
            {
                "method": entry,
                "epoch_time_s": round(seconds, 3),
                "ratio_to_ae": round(seconds / ae["epoch"], 2),
                "note": note,
            }
        )
        print(f"{entry:28s} {seconds:10.2f} s {seconds / ae['epoch']:8.2f} x  {note}", flush=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"\n{'method':28s} {'epoch_time_s':>12s} {'ratio_to_ae':>11s}")
    for r in rows:
        print(f"{r['method']:28s} {r['epoch_time_s']:12.3f} {r['ratio_to_ae']:11.2f}  {r['note']}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
