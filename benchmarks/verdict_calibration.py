"""Are the report's verdicts calibrated? Simulated experiments with known truth, judged by the report's own code.

The simulated design is the reports' own: every seed's models score the same test inputs (n in-distribution +
n OOD, drawn once per simulated experiment). A method's score for input i from its seed-s model is binormal,
`d_ms * is_ood_i + w_u * u_i + w_q * (sqrt(rho) q_mi + sqrt(1 - rho) e_msi)`: u_i an input effect common to every
method and seed (the pairing), q_mi the method's own quirk on that input, which its retrained models repeat with
correlation `rho` (measured 0.50-0.98 in the committed reports), and d_ms the separation of that trained model,
whose AUROC Phi(d / sqrt 2) varies from seed to seed with standard deviation `seed_sd`.

- `null_rates` (fast; a test of the suite, tests/benchmarks/test_verdict_calibration.py): two methods with the
  same true AUROC, the difference tested as a Table 3 part is (`harness.report.delong.auroc_difference`,
  `paired.two_sided`, region above 0): the share of one-sided false "holds" and false "contradicted" (each
  nominally 2.5%).
- The full run judges whole claims (`laebench_paper.claims`, `harness.report.verdicts.evaluate`, as
  `python -m harness report --paper` does) from evidence built as a grid leaves it: null cases (equal AUROCs,
  MC-AE exactly at 0.5, per-seed scalars at the non-inferiority margin) and power cases at the paper's gaps. It
  prints the null rates over rho 0-0.95, seed sd 0-0.15 and 3-20 seeds, then `verdict calibration: false holds
  X% (N null cases); power Y% (M cases at the paper's gaps)`.

    python -m benchmarks.verdict_calibration [--reps 200] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import pandas as pd
from scipy import stats

import harness.report.delong as delong
import harness.report.paired as paired
from harness.report.evidence import Evidence
from harness.report.leaderboard import RAW_COLUMNS, aggregate, paper_reference
from harness.report.paired import HOLDS, MARGIN
from harness.report.verdicts import evaluate
from laebench_paper.claims import CLAIMS

CLAIM = {c.id: c for c in CLAIMS}
N_SIDE = 500  # test images per side in configs/paper-cpu.yaml's OOD experiment
W_COMMON, W_OWN = (
    math.sqrt(0.5),
    math.sqrt(0.5),
)  # the input effect all methods share, and each method's own


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


def shared_inputs_experiment(
    rng, true_auroc: dict, seed_sd: float, seeds: int, rho: float, n_side: int = N_SIDE
) -> dict:
    """{(label, seed): (scores, is_ood)} for one simulated experiment: every seed and method scores the same
    2 n_side inputs (see the module docstring); `true_auroc`: label -> the method's AUROC."""
    labels = np.r_[np.zeros(n_side), np.ones(n_side)].astype(int)
    common = rng.standard_normal(2 * n_side)
    out = {}
    for label, auroc in true_auroc.items():
        quirk = rng.standard_normal(
            2 * n_side
        )  # the method's own view of each input, repeated by its seeds
        for seed in range(seeds):
            model_auroc = float(np.clip(auroc + seed_sd * rng.standard_normal(), 0.005, 0.995))
            d = math.sqrt(2) * stats.norm.ppf(
                model_auroc
            )  # unit variance per class: AUROC = Phi(d / sqrt 2)
            own = math.sqrt(rho) * quirk + math.sqrt(1 - rho) * rng.standard_normal(2 * n_side)
            out[(label, seed)] = (W_COMMON * common + W_OWN * own + d * labels, labels)
    return out


def null_rates(rho: float, seed_sd: float, seeds: int, reps: int, rng, n_side: int = N_SIDE):
    """(false holds, false contradicted) of "A above B" for two methods with equal true AUROC 0.75."""
    holds = contradicted = 0
    for _ in range(reps):
        sim = shared_inputs_experiment(rng, {"a": 0.75, "b": 0.75}, seed_sd, seeds, rho, n_side)
        per_seed = [(sim[("a", s)][0], sim[("b", s)][0], sim[("a", s)][1]) for s in range(seeds)]
        p, side = paired.two_sided(delong.auroc_difference(per_seed), paired.ABOVE_ZERO)
        holds += bool(p < paired.ALPHA and side > 0)
        contradicted += bool(p < paired.ALPHA and side < 0)
    return holds / reps, contradicted / reps


def _ood_case(rng, true_auroc: dict, seed_sd: float, seeds: int, rho: float = 0.9) -> Evidence:
    tables, values = {}, {}
    for (label, seed), (score, labels) in shared_inputs_experiment(
        rng, true_auroc, seed_sd, seeds, rho
    ).items():
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
def cases(seeds_list=(3, 5, 10)):
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
                f"imputation ECE worse by the margin {MARGIN}, seed sd 0.01, {seeds} seeds",
                "imputation",
                0,
                "null",
                lambda rng, k=seeds: _scalar_case(
                    rng,
                    "imputation",
                    "mnist",
                    "ece",
                    {"lae_online": 0.12 + MARGIN, "vae": 0.12},
                    0.01,
                    k,
                ),
            )
        )
    for sd, seeds in ((0.05, 3), (0.15, 3), (0.15, 5), (0.15, 10)):
        out.append(
            (
                f"table3 paper's gap 0.91 vs 0.74, seed sd {sd}, {seeds} seeds",
                "table3",
                0,
                "power",
                lambda rng, s=sd, k=seeds: _ood_case(
                    rng, {"lae_online": 0.91, "lae_posthoc": 0.74}, s, k
                ),
            )
        )
        out.append(
            (
                f"table3 paper's MC-AE 0.08 vs 0.5, seed sd {sd}, {seeds} seeds",
                "table3",
                1,
                "power",
                lambda rng, s=sd, k=seeds: _ood_case(rng, {"mc_ae": 0.08}, s, k),
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


def null_table(reps: int, seed: int) -> pd.DataFrame:
    """One-sided false holds and contradictions over the design's ranges (`null_rates`)."""
    rng, rows = np.random.default_rng(seed), []
    for rho in (0.0, 0.5, 0.9, 0.95):
        for sd in (0.0, 0.05, 0.15):
            for k in (3, 5, 10, 20):
                holds, contra = null_rates(rho, sd, k, reps, rng)
                rows.append(
                    {"rho": rho, "seed_sd": sd, "seeds": k, "holds": holds, "contra": contra}
                )
                print(
                    f"null  rho {rho:4.2f}  seed sd {sd:4.2f}  {k:2d} seeds  false holds {holds:6.1%}  "
                    f"false contradicted {contra:6.1%}",
                    flush=True,
                )
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200, help="simulated experiments per case")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    table = null_table(args.reps, args.seed)
    mc = 3 * math.sqrt(0.025 * 0.975 / args.reps)
    print(
        f"shared-input design: worst one-sided false holds {table.holds.max():.1%}, worst false "
        f"contradicted {table.contra.max():.1%} (nominal 2.5%, +3 Monte-Carlo SE = {0.025 + mc:.1%})"
    )
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
