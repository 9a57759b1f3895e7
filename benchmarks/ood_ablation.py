"""An ablation table of one OOD experiment: every method label against a baseline label, on the same test inputs.

Per label: its AUROC on each score (mean over seeds with the two-way 95% interval of `harness.report.delong`), the
AUROC over ink-matched in/OOD pairs (`auroc_inkmatched/*`, mean over seeds), and the difference to the baseline
(paired over seeds and the shared test inputs) with its p, Holm-corrected over the labels. Then one sentence: the
settings that move the first score significantly after Holm, by how much, and the largest move if it is not one. Written for issue 35's
ablation of the online LAE (configs/table3-ablation.yaml):

    python -m benchmarks.ood_ablation reports/table3-ablation --experiment ood-fashionmnist-ablation \\
        --baseline lae_online [--out reports/table3-ablation/ablation.md]
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


def _pairs(run_dir, experiment, a, b, seeds, score) -> list[tuple]:
    out = []
    for seed in seeds:
        ta, tb = _scores(run_dir, experiment, a, seed), _scores(run_dir, experiment, b, seed)
        if ta is None or tb is None or score not in ta or score not in tb:
            return []
        if not np.allclose(ta.ink.to_numpy(), tb.ink.to_numpy()):
            raise SystemExit(f"seed {seed}: {a} and {b} were scored on different test images")
        out.append((ta[score].to_numpy(), tb[score].to_numpy(), ta.is_ood.to_numpy()))
    return out


def _cell(est: paired.Estimate, bounds: tuple[float, float], sign: str = "") -> str:
    """`value [low, high]`, the interval clipped to what the quantity can be (an AUROC in [0, 1], a difference of
    two in [-1, 1]: at 3 seeds a t interval can reach past them); the value alone where there is no interval (one
    seed, or every seed and input scoring alike)."""
    low, high = est.ci()
    if not np.isfinite(est.value):
        return "n/a"
    if not (np.isfinite(low) and np.isfinite(high)):
        why = "one seed" if est.n_seeds < 2 else "no spread over seeds or inputs"
        return f"{est.value:{sign}.3f} (no interval: {why})"
    low, high = max(low, bounds[0]), min(high, bounds[1])
    return f"{est.value:{sign}.3f} [{low:{sign}.3f}, {high:{sign}.3f}]"


def ablation(run_dir: Path, experiment: str, baseline: str, scores: list[str]) -> tuple[str, str]:
    """(markdown table, one-sentence summary)."""
    raw = collect_raw(run_dir)
    raw = raw[(raw.experiment == experiment) & (raw.status == "ok")]
    labels = [baseline] + [x for x in dict.fromkeys(raw.method) if x != baseline]
    seeds_of = {x: set(raw[raw.method == x].seed.astype(int)) for x in labels}
    rows, tests = [], []
    for label in labels:
        seeds = sorted(seeds_of[label] & seeds_of[baseline])
        cells = [label, str(len(seeds))]
        for score in scores:
            pairs = _pairs(run_dir, experiment, label, baseline, seeds, score)
            if not pairs:
                cells += ["n/a", "n/a", "n/a"]
                continue
            level = delong.auroc_level([(a, y) for a, _, y in pairs])
            ink = raw[
                (raw.method == label)
                & (raw.metric == f"auroc_inkmatched/{score}")
                & raw.seed.astype(int).isin(seeds)
            ].value
            cells += [_cell(level, (0.0, 1.0)), f"{ink.mean():.3f}" if len(ink) else "n/a"]
            if label == baseline:
                cells.append("")
                continue
            diff = delong.auroc_difference(pairs)
            p, _ = paired.two_sided(diff, paired.ABOVE_ZERO)
            tests.append((label, score, diff, p, len(cells)))
            cells.append("")
        rows.append(cells)
    holm = paired.holm([t[3] for t in tests])
    for (label, score, diff, p, col), p_holm in zip(tests, holm):
        row = next(r for r in rows if r[0] == label)
        test = f", p {p:.3g} (Holm {p_holm:.3g})" if np.isfinite(p) else ", no test"
        row[col] = _cell(diff, (-1.0, 1.0), "+") + test
    head = ["row", "seeds"]
    for score in scores:
        head += [f"AUROC `{score}`", f"ink-matched `{score}`", f"Δ vs {baseline} `{score}`"]
    table = [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]
    first = [(t, h) for t, h in zip(tests, holm) if t[1] == scores[0] and np.isfinite(t[3])]
    if not first:
        return "\n".join(table), "no row shares two seeds with the baseline: nothing to compare"
    sentence = summary_sentence([(t[0], t[2], h) for t, h in first], scores[0], baseline)
    return "\n".join(table), sentence


def summary_sentence(
    moves: list[tuple[str, paired.Estimate, float]], score: str, baseline: str
) -> str:
    """The settings whose difference to `baseline` (label, difference, Holm p) holds after Holm, largest first, and
    the largest difference when it does not hold."""
    held = sorted((m for m in moves if m[2] < paired.ALPHA), key=lambda m: -abs(m[1].value))
    if held:
        said = "; ".join(
            f"{label} by {_cell(diff, (-1.0, 1.0), '+')} (Holm p {h:.3g})"
            for label, diff, h in held
        )
        sentence = f"After Holm, these settings move `{score}`'s AUROC against {baseline}: {said}."
    else:
        sentence = (
            f"No setting moves `{score}`'s AUROC against {baseline} significantly after Holm."
        )
    label, diff, p_holm = max(moves, key=lambda m: abs(m[1].value))
    if p_holm >= paired.ALPHA:
        sentence += (
            f" The largest move is {label}'s: {_cell(diff, (-1.0, 1.0), '+')} "
            f"(not significant after Holm, p {p_holm:.3g})."
        )
    return sentence


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a grid's results folder (or a packed report)")
    parser.add_argument("--experiment", required=True)
    parser.add_argument(
        "--baseline", required=True, help="the label every other row is compared with"
    )
    parser.add_argument("--scores", default="sigma2_output,sigma2_latent")
    parser.add_argument(
        "--out", type=Path, help="also write the table and the sentence here (markdown)"
    )
    args = parser.parse_args(argv)
    table, sentence = ablation(args.run_dir, args.experiment, args.baseline, args.scores.split(","))
    text = f"{table}\n\n{sentence}\n"
    print(text)
    if args.out:
        args.out.write_text(
            f"# Ablation of `{args.baseline}` in `{args.experiment}`\n\n"
            f"`python -m benchmarks.ood_ablation {args.run_dir} --experiment {args.experiment} "
            f"--baseline {args.baseline}`\n\n{text}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
