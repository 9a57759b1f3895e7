"""Are the report's verdicts calibrated? Simulated experiments with known truth, judged by the report's own code.

Each case builds an experiment's evidence as a grid would leave it (per-seed raw rows through
`harness.report.leaderboard.aggregate`, per-input OOD score tables) and judges it with the paper's claim
(`laebench_paper.claims`, `harness.report.verdicts.evaluate`), exactly as `python -m harness report --paper` does.

- AUROC cases (Table 3): two methods scored on the same test inputs (500 in + 500 OOD per seed, as
  configs/paper-cpu.yaml). Scores are binormal, `rho * u_i + sqrt(1 - rho^2) * e_i + d * is_ood`, with the input
  effect `u_i` shared by both methods of a seed (the pairing); each trained model (method x seed) draws its own
  AUROC around the method's true AUROC with a seed-to-seed standard deviation, as retrained models do.
- Per-seed scalar cases (imputation ECE, KNN accuracy): per-seed values with a seed-to-seed spread.
Null cases have a true difference of zero (or sit exactly on a claim's boundary: MC-AE at AUROC 0.5, a
non-inferiority difference at the margin); a "holds" there is a false claim. Power cases use the paper's
published gaps. Prints one row per case and, last, `verdict calibration: false holds X% (N null cases); power
Y% (M cases at the paper's gaps)`.

    python -m benchmarks.verdict_calibration [--reps 200] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import pandas as pd
from scipy import stats

from harness.report.evidence import Evidence
from harness.report.leaderboard import RAW_COLUMNS, aggregate, paper_reference
from harness.report.paired import HOLDS, ROPE
from harness.report.verdicts import evaluate
from laebench_paper.claims import CLAIMS

CLAIM = {c.id: c for c in CLAIMS}
N_SIDE = 500  # test images per side in configs/paper-cpu.yaml's OOD experiment
RHO = 0.5  # share of a score that depends on the input alone, common to the methods of a seed


def _evidence(task: str, values: dict, dataset: str, tables: dict | None = None) -> Evidence:
    raw = pd.DataFrame(
        [
            {
                "experiment": "sim",
                "task": task,
                "dataset": dataset,
                "arch": "sim",
                "method": label,
                "seed": seed,
                "point": "{}",
                "metric": metric,
                "value": v,
                "status": "ok",
                "trial_id": f"sim/{label}/seed{seed}",
            }
            for (label, metric), vs in values.items()
            for seed, v in enumerate(vs)
        ],
        columns=RAW_COLUMNS,
    )
    ref = paper_reference()
    ref = ref[ref.task == task].assign(note="")  # judge the rule itself, not the reference notes
    ev = Evidence("sim", dataset, aggregate(raw), raw, {}, ref)
    ev.score_tables.update(tables or {})
    return ev


def _ood_case(rng, true_auroc: dict, seed_sd: float, seeds: int) -> Evidence:
    """Per-input scores of each method for `seeds` trained models; `true_auroc`: label -> the method's AUROC."""
    labels = np.r_[np.zeros(N_SIDE), np.ones(N_SIDE)].astype(int)
    tables, values = {}, {}
    for seed in range(seeds):
        shared = rng.standard_normal(2 * N_SIDE)
        for label, auroc in true_auroc.items():
            model_auroc = float(np.clip(auroc + seed_sd * rng.standard_normal(), 0.005, 0.995))
            d = math.sqrt(2) * stats.norm.ppf(
                model_auroc
            )  # binormal with unit variances: AUROC = Phi(d / sqrt 2)
            score = (
                RHO * shared + math.sqrt(1 - RHO**2) * rng.standard_normal(2 * N_SIDE) + d * labels
            )
            tables[(label, seed)] = pd.DataFrame({"is_ood": labels, "sigma2_output": score})
            values.setdefault((label, "auroc/sigma2_output"), []).append(_auroc(score, labels))
    return _evidence("ood", values, "fashionmnist", tables)


def _auroc(score: np.ndarray, labels: np.ndarray) -> float:
    ranks = stats.rankdata(score)
    n_pos = labels.sum()
    return float(
        (ranks[labels == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (len(labels) - n_pos))
    )


def _scalar_case(
    rng, task: str, dataset: str, metric: str, true: dict, seed_sd: float, seeds: int
) -> Evidence:
    values = {
        (label, metric): (mean + seed_sd * rng.standard_normal(seeds)).tolist()
        for label, mean in true.items()
    }
    return _evidence(task, values, dataset)


# (name, claim, part index, kind, builder(rng) -> Evidence)
def cases(seeds_list=(3, 5)):
    out = []
    for seeds in seeds_list:
        for auroc in (0.6, 0.9):
            for sd in (0.0, 0.05, 0.15):
                out.append(
                    (
                        f"table3 equal AUROC {auroc}, seed sd {sd}, {seeds} seeds",
                        "table3",
                        0,
                        "null",
                        lambda rng, a=auroc, s=sd, k=seeds: _ood_case(
                            rng, {"lae_online": a, "vae": a}, s, k
                        ),
                    )
                )
        for sd in (0.0, 0.05):
            out.append(
                (
                    f"table3 MC-AE AUROC exactly 0.5, seed sd {sd}, {seeds} seeds",
                    "table3",
                    1,
                    "null",
                    lambda rng, s=sd, k=seeds: _ood_case(rng, {"mc_ae": 0.5}, s, k),
                )
            )
        out.append(
            (
                f"fig12 equal accuracy, seed sd 0.02, {seeds} seeds",
                "fig12",
                0,
                "null",
                lambda rng, k=seeds: _scalar_case(
                    rng, "knn", "mnist", "accuracy/n=5", {"lae_online": 0.6, "ae": 0.6}, 0.02, k
                ),
            )
        )
        out.append(
            (
                f"imputation ECE worse by the margin {ROPE}, seed sd 0.01, {seeds} seeds",
                "imputation",
                0,
                "null",
                lambda rng, k=seeds: _scalar_case(
                    rng,
                    "imputation",
                    "mnist",
                    "ece",
                    {"lae_online": 0.12 + ROPE, "vae": 0.12},
                    0.01,
                    k,
                ),
            )
        )
    for sd in (0.05, 0.15):
        out.append(
            (
                f"table3 paper's gap 0.91 vs 0.74, seed sd {sd}, 3 seeds",
                "table3",
                0,
                "power",
                lambda rng, s=sd: _ood_case(rng, {"lae_online": 0.91, "lae_posthoc": 0.74}, s, 3),
            )
        )
        out.append(
            (
                f"table3 paper's MC-AE 0.08 vs 0.5, seed sd {sd}, 3 seeds",
                "table3",
                1,
                "power",
                lambda rng, s=sd: _ood_case(rng, {"mc_ae": 0.08}, s, 3),
            )
        )
    out.append(
        (
            "imputation paper's ECE 0.12 vs VAE 0.18, seed sd 0.01, 3 seeds",
            "imputation",
            0,
            "power",
            lambda rng: _scalar_case(
                rng, "imputation", "mnist", "ece", {"lae_online": 0.12, "vae": 0.18}, 0.01, 3
            ),
        )
    )
    return out


def run(reps: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for name, claim, part, kind, build in cases():
        states = [
            evaluate(CLAIM[claim], build(rng)).judgement.parts[part].state for _ in range(reps)
        ]
        holds = sum(s == HOLDS for s in states)
        rows.append(
            {
                "case": name,
                "kind": kind,
                "reps": reps,
                "holds": holds,
                "contradicted": sum(s == "contradicted" for s in states),
            }
        )
        mc = 1.96 * math.sqrt(max(holds, 1) * (reps - holds) / reps) / reps
        print(
            f"{kind:<5} {name:<70} holds {holds / reps:6.1%} (± {mc:.1%})  contradicted "
            f"{rows[-1]['contradicted'] / reps:5.1%}",
            flush=True,
        )
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200, help="simulated experiments per case")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = pd.DataFrame(run(args.reps, args.seed))
    null, power = rows[rows.kind == "null"], rows[rows.kind == "power"]
    worst = null.assign(rate=null.holds / null.reps).sort_values("rate").iloc[-1]
    print(f"worst null case: {worst.case}: {worst.rate:.1%}; {time.perf_counter() - started:.0f} s")
    print(
        f"verdict calibration: false holds {null.holds.sum() / null.reps.sum():.1%} ({null.reps.sum()} null cases); "
        f"power {power.holds.sum() / power.reps.sum():.0%} ({power.reps.sum()} cases at the paper's gaps)"
    )


if __name__ == "__main__":
    main()
