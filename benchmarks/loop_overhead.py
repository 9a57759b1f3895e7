"""Epoch time of the harness's training loop against a bare PyTorch loop, same model and data.

`python -m benchmarks.loop_overhead [--dataset mnist] [--arch conv] [--limit N] [--rounds 2]` trains the
`ae` method for one epoch with `methods.training.fit_loop` (Adam, plateau scheduler, validation pass,
early-stopping bookkeeping) and a bare loop (Adam over batches sliced from the same in-memory tensor, no
validation), alternating the two `--rounds` times, and prints both times and their ratio (target <= 1.2).
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from harness.datasets import load_dataset
from methods import ModelSpec, get
from methods.training import DEFAULT_TRAIN


def harness_epoch(spec: ModelSpec, data) -> float:
    method = get("ae")(spec, data.image_shape)
    started = time.perf_counter()
    method.fit(data)
    return time.perf_counter() - started


def bare_epoch(spec: ModelSpec, data) -> float:
    torch.manual_seed(spec.seed)
    method = get("ae")(spec, data.image_shape)
    method.build()
    model = torch.nn.Sequential(method.encoder, method.decoder)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = data.train_x
    started = time.perf_counter()
    perm = torch.randperm(len(x))
    for i in range(0, len(x), spec.train["batch_size"]):
        xb = x[perm[i : i + spec.train["batch_size"]]]
        loss = ((model(xb) - xb) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - started


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--arch", default="conv")
    p.add_argument("--limit", type=int, default=None, help="training images (default: all)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--data-root", default=os.environ.get("LAEBENCH_DATA"))
    args = p.parse_args()
    data = load_dataset(args.dataset, args.data_root, train_limit=args.limit)
    spec = ModelSpec(
        "ae",
        {},
        {"name": args.dataset},
        {"arch": args.arch, "latent_dim": 2},
        {**DEFAULT_TRAIN, "max_epochs": 1},
        seed=0,
    )
    print(
        f"{args.dataset} {args.arch}: {len(data.train_x)} training, {len(data.val_x)} validation images, "
        f"{torch.get_num_threads()} threads"
    )
    ours, bare = [], []
    for r in range(args.rounds):
        bare.append(bare_epoch(spec, data))
        ours.append(harness_epoch(spec, data))
        print(
            f"round {r}: bare {bare[-1]:.2f}s  harness {ours[-1]:.2f}s  ratio {ours[-1] / bare[-1]:.3f}",
            flush=True,
        )
    print(
        f"best-of-{args.rounds}: bare {min(bare):.2f}s  harness {min(ours):.2f}s  "
        f"ratio {min(ours) / min(bare):.3f}  (target <= 1.2; the harness epoch includes the validation pass)"
    )


if __name__ == "__main__":
    main()
