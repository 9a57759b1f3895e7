"""Which weights make a Laplace posterior's output variance rank OOD images above or below in-distribution ones?

For each `lae_posthoc` and `lae_online` model in a model store (RESULTS/models), draws networks that perturb
only one group of
weights (the others stay at the MAP), with the group's own posterior standard deviation, and prints per group:
its share of the in-distribution output variance and the output-variance AUROC (in-distribution test images
vs OOD test images; > 0.5 means OOD images get more variance) and the same AUROC over ink-matched pairs (what the
group's variance detects beyond brightness, `tasks.metrics.matched_auroc`). Every image is scored by the same n
networks. Groups: each parameter tensor, and the weights
whose posterior precision is within 2x of the prior ("prior-dominated": the data hardly constrain them) vs the
others ("data-constrained"). The full posterior is the first row, as a check against the leaderboard.

    python -m benchmarks.laplace_variance_sources RESULTS/models --ood fashionmnist --data-root ../shared/data
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from sklearn.metrics import roc_auc_score

from harness.datasets import load_dataset
from harness.store.models import ModelCache
from methods import ModelSpec
from methods.laplace_common import SampledAutoencoder, flatten, unflatten
from tasks.metrics import matched_auroc


@torch.no_grad()
def _variance_score(net, mean, std, masks, x, n, seed, batch_size: int = 500) -> torch.Tensor:
    """Per image: the output variance (mean over pixels) of n networks perturbed where `masks` are True. The n
    networks are drawn once and score every image, so an image's score does not depend on its batch or position
    (an earlier version drew new networks for every batch: in-distribution and OOD images were then scored by
    different networks)."""
    generator = torch.Generator().manual_seed(seed)
    thetas = [
        [m + torch.randn(m.shape, generator=generator) * s * k for m, s, k in zip(mean, std, masks)]
        for _ in range(n)
    ]
    out = []
    for xb in x.split(batch_size):
        recon = torch.stack([net.forward(theta, xb)[1] for theta in thetas])
        out.append(recon.var(dim=0).flatten(1).mean(dim=1))
    return torch.cat(out)


def _posterior(model) -> tuple[torch.Tensor, float]:
    """The flat posterior precision used for sampling and the prior precision, for either Laplace method."""
    if (
        model.spec.method == "lae_online"
    ):  # precision_ is the running data term H; sampling uses H + prior
        return flatten(model.precision_) + model.prior, float(model.prior)
    return model.precision_, float(model.prior_precision_)


def _groups(model, mean, precision, prior) -> dict[str, list[torch.Tensor]]:
    names = [f"encoder.{n}" for n, _ in model.encoder.named_parameters()]
    names += [f"decoder.{n}" for n, _ in model.decoder.named_parameters()]
    prec = unflatten(precision, mean)
    groups = {
        "all": [torch.ones_like(m) for m in mean],
        "prior-dominated (precision < 2 x prior)": [(p < 2 * prior).float() for p in prec],
        "data-constrained": [(p >= 2 * prior).float() for p in prec],
    }
    for i, name in enumerate(names):
        groups[name] = [torch.full_like(m, float(j == i)) for j, m in enumerate(mean)]
    return groups


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, help="a model store folder (RESULTS/models)")
    parser.add_argument("--ood", default="fashionmnist", help="OOD dataset (default fashionmnist)")
    parser.add_argument("--data-root", default=None)
    parser.add_argument(
        "--n-test", type=int, default=1000, help="test images per side (default 1000)"
    )
    parser.add_argument("--samples", type=int, default=20, help="networks per image (default 20)")
    parser.add_argument(
        "--keys", default="", help="comma-separated model keys to read (default: every LAE model)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cache = ModelCache(args.models)
    wanted = set(filter(None, args.keys.split(",")))
    specs = [
        spec.to_dict()
        for spec in cache.stored_specs(("lae_posthoc", "lae_online"))
        if not wanted or spec.key in wanted
    ]
    if not specs:
        print("no lae_posthoc or lae_online model in", args.models)
        return 1
    for spec_dict in specs:
        spec = ModelSpec(**spec_dict)
        model = cache.load(spec)
        data_in = load_dataset(spec.data["name"], args.data_root)
        data_out = load_dataset(args.ood, args.data_root)
        x = torch.cat([data_in.test_x[: args.n_test], data_out.test_x[: args.n_test]])
        labels = [0] * min(args.n_test, len(data_in.test_x)) + [1] * min(
            args.n_test, len(data_out.test_x)
        )
        mean = [p.detach() for p in model.network.parameters()]
        precision, prior = _posterior(model)
        std = unflatten(precision.rsqrt(), mean)
        net = SampledAutoencoder(model.encoder, model.decoder)
        how = f" ({spec.params['prior_selection']})" if "prior_selection" in spec.params else ""
        print(
            f"\n{spec.key} seed {spec.seed}: prior {prior:.4g}{how}, {len(x)} test images, {args.samples} networks"
        )
        ink = x.flatten(1).mean(1)
        print(
            f"  {'weights perturbed':44s} {'n':>9s} {'share of in-dist var':>21s} {'AUROC':>6s} {'ink-matched':>11s}"
        )
        total = None
        for name, masks in _groups(model, mean, precision, prior).items():
            score = _variance_score(net, mean, std, masks, x, args.samples, spec.seed)
            in_var = float(score[: labels.count(0)].mean())
            total = in_var if total is None else total
            n = int(sum(float(k.sum()) for k in masks))
            print(
                f"  {name:44s} {n:9d} {in_var / total:21.3f} {roc_auc_score(labels, score.numpy()):6.3f} "
                f"{matched_auroc(score, labels, ink):11.3f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
