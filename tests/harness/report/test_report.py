"""The reproduction report: a tiny real grid gives every claim a verdict and its figures; the verdict rules on
hand-made numbers (the paper's own say reproduced, counter-examples say not); leaderboard readability (the headline
first, rows the same for every method folded, bold only for a separated best, every table rectangular)."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import textwrap

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import harness.report.paired as paired
from harness.execution.context import RunContext
from harness.report.evidence import Evidence
from harness.report.leaderboard import RAW_COLUMNS, aggregate, paper_reference
from harness.report.leaderboard_md import to_markdown
from harness.report.numbers import fmt_ci
from harness.report.paired import CONTRADICTED, HOLDS, INCONCLUSIVE
from harness.report.verdicts import Comparison, Part, combine, evaluate
from laebench_paper.claims import CLAIMS
from tests.harness.report.pages import ragged_rows

VERDICTS = (
    "reproduced",
    "inconclusive",
    "not reproduced",
    "not comparable",
    "other setting",
    "not run",
)
TINY = textwrap.dedent("""
    name: tiny
    seeds: [0, 1]
    train: {max_epochs: 2, batch_size: 32}
    experiments:
      - name: ood
        task: ood
        task_params: {n_samples: 4, max_test: 40, typicality_train: 100}
        data: {train: {name: synthetic, classes: [0, 1]}, ood: {name: synthetic, classes: [2, 3]}}
        model: &mlp {arch: mlp, latent_dim: 2, hidden: [16, 8]}
        methods: &methods {ae: {}, vae: {}, mc_ae: {}, lae_online: {hessian: exact}}
      - name: knn
        task: knn
        task_params: {labels_per_class: [1, 2, 5], repetitions: 2, n_embed: 4}
        data: {train: {name: synthetic, classes: [0, 1]}}
        model: *mlp
        methods: *methods
      - name: quality
        task: hessian_quality
        task_params: {n_samples: 4}
        data: {train: {name: synthetic, classes: [0, 1]}}
        model: *mlp
        methods: {lae_posthoc_exact: {method: lae_posthoc, hessian: exact},
                  lae_online_exact: {method: lae_online, hessian: exact}}
      - name: imputation
        task: imputation
        task_params: {max_test: 16, n_first: 2, n_refine: 2, n_iterations: 2, classifier_epochs: 1}
        data: {train: {name: synthetic, classes: [0, 1]}}
        model: *mlp
        methods: {mc_ae: {}, lae_online: {hessian: exact}}
      - name: scaling
        task: hessian_scaling
        # 5 MB: the exact diagonal's 16x16 point is over budget by its estimate, approx's is not
        task_params: {modes: [exact, approx], sides: [8, 16], repeats: 1, memory_budget_gb: 0.005, fit_min_side: 8}
        seeds: [0]
""")


def _run_in_process(grid_path, results):
    """The grid through the harness's own trial functions, in this process and without Ray (seconds, not minutes)."""
    from harness.execution.training import train_model
    from harness.execution.trials import eval_trial
    from harness.grid.config import load_grid
    from harness.grid.plan import make_plan, serialise

    grid = load_grid(grid_path)
    plan = make_plan(grid)
    run_dir = results / grid.name
    run_dir.mkdir(parents=True)
    (run_dir / "plan.json").write_text(json.dumps(serialise(plan, grid), default=str))
    common = RunContext(models_dir=str(results / "models"), run_dir=str(run_dir))
    for spec in plan.models:
        train_model(spec, common, report=lambda metrics: None)
    experiments = {e.name: dataclasses.asdict(e) for e in grid.experiments}
    for job in plan.evals:
        eval_trial(
            {
                "job": job.to_config(),
                "context": common,
                "experiment": experiments[job.experiment],
                "cpus": 1,
            }
        )
    return run_dir


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    from harness.cli import main

    root = tmp_path_factory.mktemp("report")
    (root / "tiny.yaml").write_text(TINY)
    run_dir = _run_in_process(root / "tiny.yaml", root / "res")
    assert main(["report", str(run_dir), "--paper"]) == 0
    return run_dir


def test_report_of_a_folder_without_trials_is_one_error_line(tmp_path, capsys):
    from harness.cli import main

    assert main(["report", str(tmp_path), "--paper"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No trial records under") and err.count("\n") == 1


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^## ", text, flags=re.M)[1:]
    return {p.splitlines()[0]: p for p in parts}


def test_every_claim_has_a_verdict_and_its_figures(tiny_report):
    raw = pd.read_csv(tiny_report / "raw.csv")
    assert (raw.status == "ok").all(), raw[raw.status != "ok"].error.unique()
    text = (tiny_report / "reproduction.md").read_text()
    assert "`python -m harness report" in text and "--paper`" in text
    commit = raw.git_commit.iloc[0]
    assert f"`{commit}`" in text and "torch=" in text and "cpu" in text
    sections = _sections(text)
    for claim in CLAIMS:
        mine = [
            body
            for head, body in sections.items()
            if head.startswith(f"{claim.source}: {claim.title}")
        ]
        assert len(mine) == 1, claim.id
        verdict = re.search(r"\*\*Verdict: ([a-z ]+)\*\*", mine[0])
        assert verdict and verdict[1] in VERDICTS, claim.id
        images = re.findall(r"!\[[^]]*\]\(([^)]+)\)", mine[0])
        if claim.id == "table4":  # the tiny grid has no multi-label data
            assert verdict[1] == "not run" and not images
            continue
        assert verdict[1] != "not run", claim.id
        assert len(images) == len(claim.figures), (claim.id, images)
        for image in images:
            assert (tiny_report / image).stat().st_size > 1000, image
    assert ragged_rows(text) == []  # every table row has its header's cells (GFM)
    html = (tiny_report / "reproduction.html").read_text()
    assert html.count("<img ") == len(re.findall(r"^!\[", text, flags=re.M)) and "<table>" in html
    # the exact diagonal's 16x16 point was over the 5 MB budget, the approximate one ran
    assert (
        "| ✓ holds | exact runs out of budget at a smaller image than approx |"
        in sections[next(h for h in sections if h.startswith("Fig. 7"))]
    )


def test_leaderboard_sweeps_are_long_tables_sorted_by_value(tiny_report):
    md = (tiny_report / "leaderboard.md").read_text()
    scaling = md[md.index("## scaling") :]
    rows = [line for line in scaling.splitlines() if line.startswith("| exact |")]
    assert [r.split(" | ")[1] for r in rows] == ["8", "16"]  # numeric order, not "16" before "8"
    assert rows[1].endswith("| over budget |") and "time_s@side" not in md
    assert "data ``" not in md and "arch ``" not in md  # a Hessian-scaling run has neither
    knn = md[md.index("## knn") : md.index("## ood")]
    assert "| method | n | accuracy ↑ |" in knn and "accuracy/n=" not in knn
    # the headline's table first, the methods' diagnostics after it, as in every experiment
    assert knn.index("| method | n | accuracy ↑ |") < knn.index("| method | posterior/")
    assert scaling.index("| method | slope_time ↓") < scaling.index("| method | side |")
    imputation = md[md.index("## imputation") : md.index("## knn")]
    # the classifier on the masked input is the same for both methods: one row that names them
    assert "| lae_online, mc_ae | 0.750 |" in imputation
    assert (
        "[docs/metrics.md](../../docs/metrics.md)" in md.split("## ")[0]
    )  # linked before the tables
    assert ragged_rows(md) == []
    ood = md[
        md.index("## ood") : md.index("## quality")
    ]  # 28 metrics: a table per family, not one 29-column row
    assert "| method | auroc/log_px ↑ |" in ood and "| method | aupr/log_px ↑ |" in ood
    assert "The same for every method: `auroc/ink ↑`" in ood  # method-free: once, not per method
    board = pd.read_csv(tiny_report / "leaderboard.csv")
    assert list(board.columns[-6:]) == [
        "paper_note",
        "stale",
        "git_commit",
        "config_hash",
        "versions",
        "device",
    ]
    sweep = board[board.metric.str.startswith("time_s@side=")]
    assert set(sweep.sweep) == {"side"} and set(sweep.sweep_value) == {8.0, 16.0}  # numeric, tidy
    assert board.git_commit.str.len().gt(0).all() and board.versions.str.contains("torch=").all()
    assert not ((board.metric.str.startswith("peak_mem")) & (board["mean"] <= 0)).any()


# --- verdict rules on hand-made numbers ------------------------------------------------------------------------


def _evidence(
    task: str,
    values: dict,
    methods: dict | None = None,
    reference: pd.DataFrame | None = None,
    dataset: str = "mnist",
) -> Evidence:
    """Evidence from per-seed values {(label, metric): [seed0, seed1, ...]}."""
    raw = pd.DataFrame(
        [
            {
                "experiment": "e",
                "task": task,
                "dataset": dataset,
                "arch": "mlp",
                "method": label,
                "seed": seed,
                "point": "{}",
                "metric": metric,
                "value": v,
                "status": "ok",
                "trial_id": f"e/{label}/seed{seed}",
            }
            for (label, metric), vs in values.items()
            for seed, v in enumerate(vs)
        ],
        columns=RAW_COLUMNS,
    )
    ref = paper_reference() if reference is None else reference
    return Evidence("e", dataset, aggregate(raw), raw, methods or {}, ref[ref.task == task])


def _noisy(value: float, sd: float, seeds: int = 6, rng=np.random.default_rng(0)) -> list[float]:
    return (value + sd * rng.standard_normal(seeds)).tolist()


def _paper(task: str, metric_filter=lambda m: True, sd: float = 0.001) -> dict:
    """The paper's numbers as 6 seeds with a small seed-to-seed spread."""
    ref = paper_reference()
    rows = ref[(ref.task == task) & ref.metric.map(metric_filter)]
    return {
        (r.method, r.metric): _noisy(r.value, sd * max(1.0, abs(r.value)))
        for r in rows.itertuples()
        if r.method != "*"
    }


def _claim(claim_id: str):
    return next(c for c in CLAIMS if c.id == claim_id)


def _states(outcome) -> list:
    return [p.state for p in outcome.judgement.parts]


def test_combine():
    held = Part("a", observed=True)
    refuted = Part("b", observed=False)
    open_ = Part("c", [Comparison("x", paired.seed_level({0: 0.1, 1: 0.3}), paired.ABOVE_ZERO)])
    assert combine([held, held]) == "reproduced"
    assert combine([held, open_]) == "inconclusive" and combine([held, Part("d")]) == "inconclusive"
    assert combine([held, refuted, open_]) == "not reproduced"
    assert (
        combine([Part("d")]) == "not run" and evaluate(_claim("table2"), None).verdict == "not run"
    )


def test_table2_rule():
    values = _paper("hessian_quality", sd=0.01)
    methods = {
        label: {"method": label.rsplit("_", 1)[0], "hessian": label.rsplit("_", 1)[1]}
        for label, _ in values
    }
    assert (
        evaluate(_claim("table2"), _evidence("hessian_quality", values, methods)).verdict
        == "reproduced"
    )
    # post-hoc exact only 1.5x the online -log p(x): "far worse" is contradicted
    values[("lae_posthoc_exact", "neg_log_px")] = _noisy(1.5 * 25.9, 0.3)
    outcome = evaluate(_claim("table2"), _evidence("hessian_quality", values, methods))
    assert outcome.verdict == "not reproduced" and "lae_posthoc_exact" in outcome.reason
    # two seeds that disagree: nothing can be decided
    two = {k: v[:2] for k, v in _paper("hessian_quality", sd=0.3).items()}
    assert INCONCLUSIVE in _states(
        evaluate(_claim("table2"), _evidence("hessian_quality", two, methods))
    )


def test_table3_rule_in_both_conventions():
    values = _paper("ood", lambda m: m.startswith("auroc/"), sd=0.01)
    values.update(
        {
            (label, m.replace("auroc/", "auroc/authors/")): v
            for (label, m), v in list(values.items())
        }
    )
    outcome = evaluate(_claim("table3"), _evidence("ood", values, dataset="fashionmnist"))
    assert outcome.verdict == "reproduced" and len(outcome.judgement.parts) == 4
    assert "auroc/authors/sigma2_output" in outcome.judgement.columns
    # a cold post-hoc posterior is a labelled departure from the paper's method: shown, not a rival to the claim
    cold = {**values, ("lae_posthoc_cold", "auroc/sigma2_output"): _noisy(0.99, 0.001)}
    methods = {"lae_posthoc_cold": {"method": "lae_posthoc", "temperature": 0.01}}
    outcome = evaluate(_claim("table3"), _evidence("ood", cold, methods, dataset="fashionmnist"))
    assert outcome.verdict == "reproduced" and "lae_posthoc_cold" in outcome.judgement.rows
    # the committed CPU report's case: 0.595 against 0.594 with seeds all over the place is not "holds"
    spread = {
        ("lae_online", "auroc/sigma2_output"): [0.21, 0.97, 0.605],
        ("vae", "auroc/sigma2_output"): [0.55, 0.63, 0.602],
        ("mc_ae", "auroc/sigma2_output"): [0.228, 0.509, 0.499],
    }
    outcome = evaluate(_claim("table3"), _evidence("ood", spread, dataset="fashionmnist"))
    assert outcome.verdict == "inconclusive" and _states(outcome) == [INCONCLUSIVE, INCONCLUSIVE]
    # counter-example: post-hoc beats online on output variance, in our convention only
    values[("lae_posthoc", "auroc/sigma2_output")] = _noisy(0.95, 0.01)
    outcome = evaluate(_claim("table3"), _evidence("ood", values, dataset="fashionmnist"))
    assert outcome.verdict == "not reproduced" and "lae_online − lae_posthoc" in outcome.reason
    assert _states(outcome) == [CONTRADICTED, HOLDS, HOLDS, HOLDS]
    # the same numbers on MNIST in: the paper's Table 3 is FashionMNIST in, so no verdict on the paper
    other = evaluate(_claim("table3"), _evidence("ood", values, dataset="mnist"))
    assert other.verdict == "other setting" and "this experiment trains on mnist" in other.reason
    assert "the rule says not reproduced" in other.reason


def test_table3_uses_delong_on_stored_scores():
    """With per-input scores, each seed's AUROC difference has its own error: 3 seeds of a clear gap decide."""
    rng = np.random.default_rng(2)
    labels = np.r_[np.zeros(500), np.ones(500)].astype(int)
    tables, values = {}, {}
    for label, shift in (("lae_online", 1.9), ("vae", 0.2), ("mc_ae", -1.0)):
        for seed in range(3):
            x = rng.normal(size=1000)
            tables[(label, seed)] = pd.DataFrame(
                {"is_ood": labels, "sigma2_output": x + shift * labels}
            )
            values.setdefault((label, "auroc/sigma2_output"), []).append(
                roc_auc_score(labels, tables[(label, seed)].sigma2_output)
            )
    ev = _evidence("ood", values, dataset="fashionmnist")
    ev.score_tables.update(tables)
    outcome = evaluate(_claim("table3"), ev)
    assert outcome.verdict == "reproduced"
    c = outcome.judgement.parts[0].comparisons[0]
    assert c.estimate.test.startswith("DeLong") and c.estimate.n_inputs == 1000


def test_imputation_rule_and_not_comparable_notes():
    metrics = ("ece", "mce", "rmsce")
    values = _paper("imputation", lambda m: m in metrics, sd=0.0005)
    # reference.csv marks these rows as computed differently by the authors: never a verdict on them
    outcome = evaluate(_claim("imputation"), _evidence("imputation", values))
    if any(_evidence("imputation", values).note("lae_online", m) for m in metrics):
        assert (
            outcome.verdict == "not comparable"
            and "On our numbers alone the rule says reproduced" in outcome.reason
        )
    clean = paper_reference().assign(note="")
    # ECE 0.12 against the ensemble's 0.12: a tie within the paper's precision, which the claim allows
    assert (
        evaluate(_claim("imputation"), _evidence("imputation", values, reference=clean)).verdict
        == "reproduced"
    )
    values[("lae_online", "ece")] = _noisy(
        0.20, 0.002
    )  # ensemble 0.12: online no longer best calibrated on ECE
    outcome = evaluate(_claim("imputation"), _evidence("imputation", values, reference=clean))
    assert outcome.verdict == "not reproduced" and "lae_online − ensemble, `ece`" in outcome.reason
    deterministic_only = {("ae", m): [0.01, 0.01] for m in metrics} | {
        ("lae_online", m): [0.3, 0.3] for m in metrics
    }
    outcome = evaluate(
        _claim("imputation"), _evidence("imputation", deterministic_only, reference=clean)
    )
    assert outcome.verdict == "not run"  # an AE is not stochastic: nothing to compare with


def test_fig12_and_table4_rules():
    acc = {
        "lae_online": [0.5, 0.6, 0.7, 0.9],
        "ae": [0.4, 0.5, 0.6, 0.95],
        "vae": [0.3, 0.4, 0.5, 0.95],
    }
    values = {
        (label, f"accuracy/n={n}"): _noisy(a, 0.01)
        for label, accs in acc.items()
        for n, a in zip((1, 5, 20, 50), accs)
    }
    assert (
        evaluate(_claim("fig12"), _evidence("knn", values)).verdict == "reproduced"
    )  # n=50 is outside 1-20
    values[("lae_online", "accuracy/n=5")] = _noisy(
        0.45, 0.01
    )  # behind AE (0.5), ahead of VAE (0.4) at n=5
    outcome = evaluate(_claim("fig12"), _evidence("knn", values))
    assert outcome.verdict == "not reproduced" and _states(outcome) == [CONTRADICTED, HOLDS]
    assert "lae_online − ae, `accuracy/n=5`" in outcome.reason
    table4 = _paper("knn")
    assert (
        evaluate(_claim("table4"), _evidence("knn", table4, dataset="celeba")).verdict
        == "reproduced"
    )
    table4[("ae", "accuracy/overall")] = _noisy(0.80, 0.001)
    outcome = evaluate(_claim("table4"), _evidence("knn", table4, dataset="celeba"))
    assert (
        outcome.verdict == "not reproduced"
        and "lae_online − ae, `accuracy/overall`" in outcome.reason
    )


def _scaling(exponents: dict, first_over: dict) -> dict:
    """time (approx) and memory (exact) against side with the given log-log slopes against pixels."""
    out = {}
    for mode, (kind, slope) in exponents.items():
        for side in (32, 64, 128, 256):
            over = side >= first_over.get(mode, 10**6)
            wobble = 1 + 0.01 * ((side // 32) % 3 - 1)
            out[(mode, f"{kind}@side={side}")] = [
                math.nan if over else 1e-6 * (side * side) ** slope * wobble
            ]
            out[(mode, f"over_budget@side={side}")] = [float(over)]
    return out


def test_fig7_rule():
    good = _scaling({"approx": ("time_s", 1.0), "exact": ("peak_mem_mb", 2.0)}, {"exact": 256})
    good.update(
        {k: v for k, v in _scaling({"approx": ("peak_mem_mb", 0.9)}, {}).items() if "peak" in k[1]}
    )
    assert evaluate(_claim("fig7"), _evidence("hessian_scaling", good)).verdict == "reproduced"
    bad = _scaling(
        {"approx": ("time_s", 1.9), "exact": ("peak_mem_mb", 2.0)}, {"exact": 256, "approx": 128}
    )
    outcome = evaluate(_claim("fig7"), _evidence("hessian_scaling", bad))
    assert outcome.verdict == "not reproduced" and "approx time slope: +1.9" in outcome.reason
    assert "exact 256, approx 128" in outcome.judgement.parts[3].measured


# --- leaderboard readability ------------------------------------------------------------------------------------


def test_numbers_are_rounded_to_their_ci():
    assert fmt_ci(3.266, 0.1014) == "3.27 ± 0.10"
    assert fmt_ci(9683.9, 2455.0) == "9700 ± 2500"
    assert fmt_ci(0.91234, float("nan")) == "0.912" and fmt_ci(float("nan"), 1.0) == "n/a"
    assert fmt_ci(-0.0004, 0.01) == "0.000 ± 0.010"  # no "-0.000"
    # a method-free number summed in another order: float noise is no interval
    assert fmt_ci(0.088024000000000033, 4.2e-17) == "0.0880"


def test_unmeasured_memory_is_not_zero_and_notes_are_shown(tmp_path):
    rows = [
        {
            "experiment": "s",
            "task": "hessian_scaling",
            "dataset": "",
            "arch": "",
            "method": "approx",
            "seed": seed,
            "point": json.dumps({"side": side}),
            "metric": metric,
            "value": value,
            "status": "ok",
            "trial_id": f"s/approx/seed{seed}/side={side}",
        }
        for seed in (0, 1)
        for side in (8, 16)
        for metric, value in (
            (f"time_s@side={side}", 0.01 * side),
            (f"peak_mem_mb@side={side}", 0.0 if side == 8 else 10.0 + seed),
        )
    ]
    rows.append(
        {
            "experiment": "v",
            "task": "ood",
            "dataset": "fashionmnist",
            "arch": "conv",
            "method": "vae",
            "seed": 0,
            "point": "{}",
            "metric": "auroc/log_px",
            "value": 0.6,
            "status": "ok",
            "trial_id": "v",
        }
    )
    raw = pd.DataFrame(rows, columns=RAW_COLUMNS)
    board = aggregate(raw, tmp_path)
    mem = board[board.metric.str.startswith("peak_mem")].set_index("metric")
    assert (
        np.isnan(mem.loc["peak_mem_mb@side=8", "mean"])
        and mem.loc["peak_mem_mb@side=16", "mean"] == 10.5
    )
    md = to_markdown(board, raw)
    assert "| approx | 8 | 0.0800 | n/a |" in md and "| approx | 16 | 0.160 | 10.5 ± 6.4 |" in md
    note = board.loc[board.method == "vae", "paper_note"].iloc[0]
    if note:  # reference.csv marks the authors' VAE log p(x) as computed differently
        assert "(paper 0.54†)" in md and note in md


def test_leaderboard_bolds_only_a_best_that_is_significantly_ahead():
    def raw_of(values: dict) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "experiment": "o",
                    "task": "ood",
                    "dataset": "fashionmnist",
                    "arch": "conv",
                    "method": label,
                    "seed": seed,
                    "point": "{}",
                    "metric": "auroc/log_px",
                    "value": v,
                    "status": "ok",
                    "trial_id": f"o/{label}/seed{seed}",
                }
                for label, vs in values.items()
                for seed, v in enumerate(vs)
            ],
            columns=RAW_COLUMNS,
        )

    def bold(values: dict) -> set:
        raw = raw_of(values)
        md = to_markdown(aggregate(raw), raw)
        return {
            line.split(" | ")[0][2:]
            for line in md.splitlines()
            if line.startswith("| ") and "**" in line
        }

    # a ahead of c in every seed by far more than the spread, b within noise of a: no best stands apart
    assert (
        bold(
            {
                "a": [0.90, 0.91, 0.92, 0.90],
                "b": [0.89, 0.93, 0.90, 0.92],
                "c": [0.60, 0.61, 0.62, 0.60],
            }
        )
        == set()
    )
    # a ahead of both in every seed by more than the spread: a alone
    assert bold(
        {
            "a": [0.95, 0.97, 0.96, 0.94],
            "b": [0.90, 0.91, 0.89, 0.90],
            "c": [0.60, 0.61, 0.62, 0.60],
        }
    ) == {"a"}
    # the committed report's 0.595 against 0.594 with seeds all over the place: nothing bold
    assert bold({"lae_online": [0.21, 0.97, 0.605], "vae": [0.55, 0.63, 0.602]}) == set()
    # the same value for every method (a method-free baseline such as ink): no best
    assert bold({"a": [0.088, 0.088], "b": [0.088, 0.088]}) == set()


def test_a_packed_report_rebuilds_its_verdicts_from_its_own_files(tiny_report, tmp_path):
    """`pack` keeps what the verdicts read (records, plan, per-input scores gzipped): the rebuilt report's verdict
    tables and leaderboard are the original's."""
    from harness.cli import main

    dest = tmp_path / "packed"
    assert main(["pack", str(tiny_report), str(dest)]) == 0
    assert list((dest / "artifacts").rglob("scores.csv.gz")) and not list(dest.rglob("*.pt"))
    assert main(["report", str(dest), "--paper"]) == 0

    def verdict_lines(folder):
        text = (folder / "reproduction.md").read_text()
        return [
            line
            for line in text.splitlines()
            if line.startswith("|") or line.startswith("**Verdict")
        ]

    assert verdict_lines(dest) == verdict_lines(tiny_report)
    assert (dest / "leaderboard.md").read_text() == (tiny_report / "leaderboard.md").read_text()
    ood = next(
        line
        for line in verdict_lines(dest)
        if "LAE online has the highest sigma2_output AUROC" in line
    )
    assert "DeLong" in ood  # the paired test read the packed per-input scores


def test_numbers_from_two_versions_of_a_method_are_not_compared():
    values = _paper("ood", lambda m: m == "auroc/sigma2_output", sd=0.01)
    ev = _evidence("ood", values, dataset="fashionmnist")
    assert evaluate(_claim("table3"), ev).verdict == "reproduced"
    ev.raw["method_code"] = "aaaa"
    ev.raw["task_code"] = "tttt"
    ev.raw.loc[(ev.raw.method == "lae_online") & (ev.raw.seed == 0), "method_code"] = "bbbb"
    outcome = evaluate(_claim("table3"), ev)
    assert outcome.verdict == "not comparable" and "lae_online: aaaa, bbbb" in outcome.reason
