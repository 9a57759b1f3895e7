"""What an evaluation costs: the previous sampling path against the current one, on the paper's conv models.

(a) One OOD evaluation of Table 3's setting (FashionMNIST in, MNIST out, the conv AE of appendix A.2;
configs/paper-cpu.yaml's sizes: 500 test images per side, a 2,000-image typicality reference, 10 networks
for the online LAE): the previous path called `Method.sample` per batch, so a weight-sampling method drew all
its weights again for every batch; the current one (`Method.sample_all`) draws its networks once per
evaluation, and the typicality reference is kept next to the model (`ModelCache.derived`), so an evaluation
of the same model after the first reuses it (timed separately: "rerun").
(b) The CelebA KNN embedding (conv_celeba, `--faces` of the validation faces, 20 samples): the previous path
ran the decoder it does not need and drew n samples of a deterministic method; the current one runs the
encoder only (`decode=False`) and one sample when samples are identical.

Models are trained for one epoch on a few hundred images (an evaluation's cost does not depend on how well a
model is trained). Both paths' outputs are compared (they must agree to float tolerance). Per-method seconds,
a FLOP floor (multiply-accumulates of the forwards at this machine's measured rate), and last:
`eval_cost: ood_speedup=X knn_speedup=Y` (whole-task ratios, previous / current).

    python -m benchmarks.eval_cost [--data-root ../shared/data] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from harness.datasets import load_dataset
from methods import ModelSpec, get
from tasks.ood import OOD
from tasks.ood_scores import batch_scores


def _fit(method: str, params: dict, data: str, arch: str, root, limit: int):
    spec = ModelSpec(
        method,
        params,
        {"name": data, "limit": limit},
        {"arch": arch, "latent_dim": 2 if arch == "conv" else 64},
        {"max_epochs": 1, "batch_size": 64, "lr": 1e-3},
        0,
    )
    dataset = load_dataset(data, root, train_limit=limit)
    cls = get(method)
    deps = {
        name: get(d.method)(d, dataset.image_shape).fit(dataset)
        for name, d in cls.dependencies(spec).items()
    }
    return cls(spec, dataset.image_shape).fit(dataset, dependencies=deps), dataset


def _previous_statistics(method, x_all: torch.Tensor, n: int, seed: int, batch: int) -> dict:
    """The OOD task's statistics as they were computed before `sample_all`: `sample` per batch, n samples."""
    parts = []
    for start in range(0, len(x_all), batch):
        x = x_all[start : start + batch]
        parts.append(
            {k: v.double() for k, v in batch_scores(x, method.sample(x, n, seed=seed)).items()}
        )
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


def _previous_embedding(method, x_all: torch.Tensor, n: int, seed: int, batch: int) -> torch.Tensor:
    return torch.cat(
        [
            method.sample(x_all[i : i + batch], n, seed=seed).latents
            for i in range(0, len(x_all), batch)
        ],
        1,
    )


def _current_embedding(method, x_all: torch.Tensor, n: int, seed: int, batch: int) -> torch.Tensor:
    n = n if method.stochastic else 1
    out = torch.cat(
        [s.latents for s in method.sample_all(x_all, n, seed=seed, batch_size=batch, decode=False)],
        1,
    )
    return out


def _timed(fn):
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started


def _macs_per_second() -> float:
    """This machine's rate on a 1024 x 1024 matmul (multiply-accumulates per second), the forwards' ceiling."""
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    _, seconds = _timed(lambda: [a @ b for _ in range(10)])
    return 10 * 1024**3 / seconds


def _forward_macs(method, x: torch.Tensor) -> int:
    """Multiply-accumulates of one forward of the method's encoder and decoder on one input."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            total += (
                output[0].numel()
                * module.in_channels
                * np.prod(module.kernel_size)
                // module.groups
            )
        elif isinstance(module, torch.nn.Linear):
            total += module.in_features * module.out_features

    nets = [m for m in method.modules().values()]
    handles = [
        m.register_forward_hook(hook)
        for net in nets
        for m in net.modules()
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))
    ]
    with torch.no_grad():
        method.decoder(method.encoder(x[:1]))
    for h in handles:
        h.remove()
    return total


def ood_case(root, log) -> tuple[float, float]:
    method, data = _fit("lae_online", {"hessian": "mix"}, "fashionmnist", "conv", root, 300)
    ood = load_dataset("mnist", root)
    x_in, x_out = data.test_x[:500], ood.test_x[:500]
    train = load_dataset("fashionmnist", root, train_limit=2000).train_x
    n, seed, batch = 10, 0, 500
    task = OOD({"n_samples": n, "max_test": 500, "typicality_train": 2000})

    def previous():
        return [_previous_statistics(method, x, n, seed, batch) for x in (x_in, x_out, train)]

    def current(sets=(x_in, x_out, train)):
        return [task.statistics_of(method, x, n, seed) for x in sets]

    before, t_before = _timed(previous)
    after, t_after = _timed(current)
    worst = max(
        float((a[k] - b[k]).abs().max()) for a, b in zip(before, after) for k in a if k in b
    )
    log(
        f"ood lae_online (conv, {n} networks, 500 + 500 test images, 2,000 reference): previous {t_before:.1f} s, "
        f"current {t_after:.1f} s (x{t_before / t_after:.2f}); largest difference {worst:.2e}"
    )
    if worst > 1e-4:
        raise AssertionError(f"ood: the two paths' statistics differ by {worst:.2e}")
    # another evaluation of the same model (a split, a task setting): its typicality reference is stored
    _, t_rerun = _timed(lambda: current((x_in, x_out)))
    rate = _macs_per_second()
    macs = _forward_macs(method, x_in) * n * 3000
    log(
        f"  an evaluation that finds its reference stored: {t_rerun:.1f} s (x{t_before / t_rerun:.2f}); floor: "
        f"{macs / 1e12:.2f} T multiply-accumulates of forwards at this machine's matmul rate "
        f"({rate / 1e9:.0f} G/s) = {macs / rate:.1f} s for the whole evaluation"
    )
    return t_before, t_after


def knn_case(root, log, faces: int) -> tuple[float, float]:
    total_before = total_after = 0.0
    for name, params in (("ae", {}), ("lae_online", {"hessian": "mix"})):
        method, data = _fit(name, params, "celeba", "conv_celeba", root, 200)
        x = data.val_x[:faces]
        n, seed, batch = 20, 0, 100
        before, t_before = _timed(lambda: _previous_embedding(method, x, n, seed, batch))
        after, t_after = _timed(lambda: _current_embedding(method, x, n, seed, batch))
        same = (
            torch.allclose(before[: after.shape[0]], after, atol=1e-5)
            if method.stochastic
            else torch.allclose(before[0], after[0], atol=1e-5)
        )
        log(
            f"knn {name} (conv_celeba, {len(x)} of the validation faces, n_embed {n}): previous {t_before:.1f} s, current "
            f"{t_after:.1f} s (x{t_before / t_after:.2f}); embeddings agree: {same}"
        )
        if not same:
            raise AssertionError(f"knn {name}: the two paths' embeddings differ")
        total_before, total_after = total_before + t_before, total_after + t_after
    return total_before, total_after


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=None)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (a 1-CPU trial uses 1)"
    )
    parser.add_argument(
        "--faces", type=int, default=300, help="validation faces embedded (the task: all 1,800)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    ood = ood_case(args.data_root, print)
    knn = knn_case(args.data_root, print, args.faces)
    print(f"eval_cost: ood_speedup={ood[0] / ood[1]:.2f} knn_speedup={knn[0] / knn[1]:.2f}")


if __name__ == "__main__":
    main()
