"""Two method labels of one OOD experiment, compared on the same test inputs: per score, each label's AUROC and
their difference with its 95% CI and p (DeLong per seed, random effects over seeds: `harness.report.paired`),
the AUROC over ink-matched pairs, and the posterior summaries the OOD task records (`posterior/*`).

Used for issue 31's learning-rate comparison (appendix A's lr 1e-3, batch 64 against the authors' lr 1e-4,
batch 100) on the conv AE of configs/paper-cpu.yaml:

    python -m benchmarks.ood_pair RESULTS/paper-cpu --experiment ood-fashionmnist \\
        --a lae_online --b lae_online_authors_lr
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

import harness.report.delong as delong
import harness.report.paired as paired
from harness.report.leaderboard import collect_raw
from harness.store.pack import artifact
from harness.store.records import artifacts_dir


def _scores(run_dir: Path, experiment: str, label: str, seed: int) -> pd.DataFrame | None:
    path = artifact(artifacts_dir(run_dir, experiment, label, f"seed{seed}"), "scores.csv")
    return None if path is None else pd.read_csv(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a grid's results folder (or a packed report)")
    parser.add_argument("--experiment", required=True)
    parser.add_argument("--a", required=True, help="method label A")
    parser.add_argument("--b", required=True, help="method label B")
    parser.add_argument("--scores", default="sigma2_output,sigma2_latent,log_px")
    args = parser.parse_args(argv)
    raw = collect_raw(args.run_dir)
    raw = raw[(raw.experiment == args.experiment) & (raw.status == "ok")]
    seeds = sorted(
        set(raw[raw.method == args.a].seed.astype(int))
        & set(raw[raw.method == args.b].seed.astype(int))
    )
    if not seeds:
        print(f"no seed where both {args.a} and {args.b} have results in {args.experiment}")
        return 1
    print(f"{args.experiment}: {args.a} (A) vs {args.b} (B), seeds {seeds}")
    print(
        f"{'score':<22} {'AUROC A':>16} {'AUROC B':>16} {'A - B [95% CI]':>28} {'p':>7}  per seed A / B"
    )
    for score in args.scores.split(","):
        pairs, per_seed = [], []
        for seed in seeds:
            a = _scores(args.run_dir, args.experiment, args.a, seed)
            b = _scores(args.run_dir, args.experiment, args.b, seed)
            if a is None or b is None or score not in a or score not in b:
                continue
            if not np.allclose(a.ink.to_numpy(), b.ink.to_numpy()):
                raise SystemExit(
                    f"seed {seed}: the two labels were scored on different test images"
                )
            ok = a[score].notna() & b[score].notna()
            labels = a.is_ood[ok].to_numpy()
            pairs.append((a[score][ok].to_numpy(), b[score][ok].to_numpy(), labels))
            per_seed.append(
                f"{delong.delong(pairs[-1][0], labels)[0][0]:.3f}/{delong.delong(pairs[-1][1], labels)[0][0]:.3f}"
            )
        if not pairs:
            continue
        shared = all(len(y) == len(pairs[0][2]) and (y == pairs[0][2]).all() for *_, y in pairs)
        level_a = delong.auroc_level([(a, y) for a, _, y in pairs], shared)
        level_b = delong.auroc_level([(b, y) for _, b, y in pairs], shared)
        diff = delong.auroc_difference(pairs, shared)
        low, high = diff.ci()
        p = paired.two_sided(diff, paired.ABOVE_ZERO)[0]
        print(
            f"{score:<22} {level_a.value:>8.3f} ± {level_a.value - level_a.ci()[0]:.3f} "
            f"{level_b.value:>8.3f} ± {level_b.value - level_b.ci()[0]:.3f} "
            f"{diff.value:>+9.3f} [{low:+.3f}, {high:+.3f}] {p:>7.3g}  {' '.join(per_seed)}"
        )
    rows = raw[
        raw.method.isin([args.a, args.b])
        & raw.metric.str.match(r"^(posterior/|auroc_inkmatched/|spearman_ink/)")
    ]
    if len(rows):
        table = rows.pivot_table(
            index="metric", columns="method", values="value", aggfunc=["mean", "std"]
        )
        print("\nrecorded per trial (mean and std over seeds):")
        print(table.to_string(float_format=lambda v: f"{v:.4g}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
