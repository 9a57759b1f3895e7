"""An OOD score's AUROC along training: the snapshots of an experiment with `snapshots:` (issue 35, item 2).

Reads a grid's results folder or a packed report and prints, for the experiment given, a table (mean over seeds
of the AUROC and of its ink-matched AUROC, and the per-seed AUROCs, at every epoch):

    python -m benchmarks.ood_epochs reports/table3-conv --experiment ood-fashionmnist-epochs \\
        [--score sigma2_output] [--out reports/table3-conv]

`--out` also writes it as `<experiment>_auroc_by_epoch.md`. The figure of the same numbers is the report's
(`python -m harness report DIR --paper`: `figures/<experiment judged>_auroc_by_epoch.png`,
`laebench_paper.epoch_figure`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from harness.report.leaderboard import collect_raw
from laebench_paper.epoch_figure import epoch_rows


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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a grid's results folder (or a packed report)")
    parser.add_argument("--experiment", required=True)
    parser.add_argument("--score", default="sigma2_output")
    parser.add_argument("--out", type=Path, help="write the table here")
    args = parser.parse_args(argv)
    raw = collect_raw(args.run_dir)
    rows = epoch_rows(raw[raw.status == "ok"], args.score, experiment=args.experiment)
    if rows.empty:
        print(f"no `auroc/{args.score}@epoch=` numbers in {args.experiment}")
        return 1
    text = table(rows)
    print(text)
    if args.out:
        (args.out / f"{args.experiment}_auroc_by_epoch.md").write_text(
            f"# `{args.score}` AUROC along training ({args.experiment})\n\n"
            f"`python -m benchmarks.ood_epochs {args.run_dir} --experiment {args.experiment} "
            f"--score {args.score}`; the figure: `reproduction.md`, Table 3's section\n\n{text}\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
