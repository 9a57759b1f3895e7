"""An OOD score's AUROC along training: the snapshots of an experiment with `snapshots:` (issue 35, item 2).

Reads a grid's results folder or a packed report and writes, for the experiment given, a figure (AUROC and its
ink-matched AUROC against the epoch, one colour per method label: each seed a thin line, the mean over seeds a
thick one) and a table (mean over seeds and the per-seed values at every epoch), and prints the table:

    python -m benchmarks.ood_epochs reports/table3-conv --experiment ood-fashionmnist-epochs \\
        [--score sigma2_output] [--out reports/table3-conv]

`--out` gets `<experiment>_auroc_by_epoch.png` and `<experiment>_auroc_by_epoch.md`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from harness.report.leaderboard import collect_raw
from harness.report.metric_names import metric_parts


def by_epoch(run_dir: Path, experiment: str, score: str) -> pd.DataFrame:
    """One row per (method, seed, epoch, measure) with the AUROC (measure `auroc` or `auroc_inkmatched`)."""
    raw = collect_raw(run_dir)
    raw = raw[(raw.experiment == experiment) & (raw.status == "ok") & raw.metric.notna()]
    parts = pd.DataFrame([metric_parts(m) for m in raw.metric], index=raw.index)
    raw = raw.join(parts)
    keep = (
        raw.measure.isin(["auroc", "auroc_inkmatched"])
        & (raw.score == score)
        & (raw.convention == "ours")
        & (raw.sweep == "epoch")
    )
    out = raw[keep].rename(columns={"sweep_value": "epoch"})
    return out[["method", "seed", "epoch", "measure", "value"]].sort_values(
        ["method", "epoch", "seed"]
    )


def table(rows: pd.DataFrame) -> str:
    mean = rows.pivot_table(
        index=["method", "epoch"], columns="measure", values="value", aggfunc="mean"
    )
    seeds = rows[rows.measure == "auroc"].pivot_table(
        index=["method", "epoch"], columns="seed", values="value"
    )
    lines = [
        "| method | epoch | AUROC (mean) | ink-matched AUROC (mean) | AUROC per seed |",
        "|---|---|---|---|---|",
    ]
    for (method, epoch), r in mean.iterrows():
        per_seed = ", ".join(f"{v:.3f}" for v in seeds.loc[(method, epoch)].dropna())
        lines.append(
            f"| {method} | {epoch:.0f} | {r.get('auroc', float('nan')):.3f} | "
            f"{r.get('auroc_inkmatched', float('nan')):.3f} | {per_seed} |"
        )
    return "\n".join(lines)


def figure(rows: pd.DataFrame, score: str, path: Path) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    methods = list(dict.fromkeys(rows.method))
    colours = dict(zip(methods, sns.color_palette("colorblind", len(methods))))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, measure, title in zip(
        axes, ("auroc", "auroc_inkmatched"), ("AUROC", "AUROC over ink-matched pairs")
    ):
        for method in methods:
            part = rows[(rows.method == method) & (rows.measure == measure)]
            for _, seed in part.groupby("seed"):
                ax.plot(seed.epoch, seed.value, color=colours[method], lw=0.8, alpha=0.5)
            mean = part.groupby("epoch").value.mean()
            ax.plot(
                mean.index, mean.values, color=colours[method], lw=2.2, marker="o", label=method
            )
        ax.axhline(0.5, color="grey", lw=0.8, ls=":")
        ax.set(title=f"{title}, `{score}`", xlabel="training epoch", ylim=(0, 1))
    axes[0].set_ylabel("AUROC (OOD inputs above in-distribution ones)")
    for ax in axes:
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    axes[1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a grid's results folder (or a packed report)")
    parser.add_argument("--experiment", required=True)
    parser.add_argument("--score", default="sigma2_output")
    parser.add_argument("--out", type=Path, help="write the figure and the table here")
    args = parser.parse_args(argv)
    rows = by_epoch(args.run_dir, args.experiment, args.score)
    if rows.empty:
        print(f"no `auroc/{args.score}@epoch=` numbers in {args.experiment}")
        return 1
    text = table(rows)
    print(text)
    if args.out:
        stem = args.out / f"{args.experiment}_auroc_by_epoch"
        figure(rows, args.score, stem.with_suffix(".png"))
        stem.with_suffix(".md").write_text(
            f"# `{args.score}` AUROC along training ({args.experiment})\n\n"
            f"`python -m benchmarks.ood_epochs {args.run_dir} --experiment {args.experiment} "
            f"--score {args.score}`\n\n![AUROC by epoch]({stem.name}.png)\n\n{text}\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
