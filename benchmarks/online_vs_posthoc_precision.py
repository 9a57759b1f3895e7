"""How much sharper is the online LAE's precision than the post-hoc Laplace's GGN on the same trained setup?

Reads a model store (RESULTS/models) holding, for the same data, architecture, training and seed, an
`lae_online` model (H, the running data term) and an `lae_posthoc` model at temperature 1, unit noise and the evidence prior
(H = precision - prior, the GGN at the MAP), and prints the ratio H_online / H_posthoc over the weights whose
GGN is positive (median and quartiles), per seed, beside alpha's saturation (1 - (1 - alpha)^T) / alpha.

    python benchmarks/online_vs_posthoc_precision.py results/models
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from harness.store.models import ModelCache
from methods import ModelSpec
from methods.laplace_common import flatten


def _same_setup(a: dict, b: dict) -> bool:
    return all(a[k] == b[k] for k in ("data", "model", "train", "seed"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, help="a model store folder (RESULTS/models)")
    args = parser.parse_args(argv)
    cache = ModelCache(args.models)
    specs = [spec.to_dict() for spec in cache.stored_specs(("lae_online", "lae_posthoc"))]
    online = [
        s
        for s in specs
        if s["method"] == "lae_online" and s["params"].get("initial_precision") == "prior"
    ]
    # the evidence prior as fitted: a searched prior was added to and subtracted from H in float32
    posthoc = [
        s
        for s in specs
        if s["method"] == "lae_posthoc"
        and s["params"].get("temperature", 1.0) == 1.0
        and s["params"].get("observation_noise", "unit") == "unit"
        and s["params"].get("prior_selection") == "marglik"
    ]
    pairs = [(o, p) for o in online for p in posthoc if _same_setup(o, p)]
    if not pairs:
        print(
            "no lae_online / lae_posthoc (temperature 1, unit noise) pair with the same setup in",
            args.models,
        )
        return 1
    print("seed  weights  median  q25  q75  (1-(1-alpha)^T)/alpha  lae_online / lae_posthoc model")
    for o, p in pairs:
        on, post = cache.load(ModelSpec(**o)), cache.load(ModelSpec(**p))
        h_post = post.precision_ - post.prior_precision_
        h_on = flatten(on.precision_)
        mask = h_post > 1e-8
        ratio = (h_on[mask] / h_post[mask]).double().numpy()
        alpha = on.params["alpha"]
        print(
            f"{o['seed']:>4}  {int(mask.sum()):>7}  {np.median(ratio):>6.0f}  {np.quantile(ratio, 0.25):>4.0f}  "
            f"{np.quantile(ratio, 0.75):>4.0f}  {(1 - (1 - alpha) ** on.step_) / alpha:>21.0f}  "
            f"{on.spec.key} / {post.spec.key}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
