"""The paper's published claims, declared: source, the paper's data and numbers, the experiments that measure
them (task and metric pattern), the verdict rule in words and as code (`judge_*`), and the figures shown
beside them (`laebench_paper.figures`). `CLAIMS` is what the package registers (`harness.report.claims`); the
verdict machinery (evidence, parts, combine, not-comparable notes) is `harness.report.verdicts`.
"""

from __future__ import annotations

from harness.report.claims import Claim
from harness.report.evidence import Evidence
from harness.report.paired import MARGIN
from laebench_paper.judges import (
    judge_fig7,
    judge_fig12,
    judge_imputation,
    judge_table2,
    judge_table3,
    judge_table4,
)

from . import bars, figures
from .epoch_figure import auroc_by_epoch


def table3_notes(ev: Evidence) -> list[str]:
    if not ev.labels("lae_posthoc"):
        return []
    return [
        "The post-hoc Laplace is the paper's (Bayesian, temperature 1) and its sigma2_output AUROC is shown as "
        "measured. Where a Laplace posterior's output variance comes from (which weights carry it, and each "
        "group's own AUROC) is measured by `python -m benchmarks.laplace_variance_sources RESULTS/models`; "
        "`docs/laplace-posteriors.md` records what it measured on the MNIST MLP (the online LAE's first-layer "
        "weights on pixels the training images rarely ink keep the prior's variance; every posterior's decoder "
        "noise follows ink; the online posterior is ~1,500x colder than the post-hoc one)."
    ]


CLAIMS = (
    Claim(
        id="table2",
        title="Online LA: sampled networks reconstruct well; post-hoc far worse",
        source="Table 2",
        dataset="mnist",
        task="hessian_quality",
        metrics=r"neg_log_px",
        needs="`neg_log_px` and `mse`",
        paper="online -log p(x) 25.8 vs MSE 25.7 (exact), 25.9 vs 25.8 (approx); post-hoc -log p(x) 9684 "
        "(KFAC), 283 (exact), 232 (approx): 9x to 370x the online",
        rule="per Hessian structure, online: log(-log p(x) / MSE) below log 1.1; post-hoc: log of -log p(x) over "
        "the largest online -log p(x) of the same seed above log 2 (t over seeds)",
        judge=judge_table2,
        figures=(bars.hessian_quality,),
    ),
    Claim(
        id="table3",
        title="OOD: LAE online best on output variance; MC-AE inverted",
        source="Table 3, Figs. 9-10",
        dataset="fashionmnist",
        task="ood",
        metrics=r"auroc/[^@]+",  # a model at its end, not its snapshots (`snapshots:`)
        needs="`auroc/<score>`",
        paper="AUROC of 4 scores x 6 methods, FashionMNIST in, MNIST out; sigma2_output: LAE online 0.91, next "
        "best 0.74 (post-hoc); MC-AE 0.08",
        rule="per scoring convention: LAE online's sigma2_output AUROC above each other method's (mean over seeds; "
        "variance over the shared test inputs and the seeds); MC-AE's below 0.5; a difference inside "
        f"+-{MARGIN} by two one-sided tests is a tie (the paper's gap absent)",
        judge=judge_table3,
        figures=(figures.roc, figures.variance_histograms, auroc_by_epoch),
        notes=table3_notes,
    ),
    Claim(
        id="imputation",
        title="Imputation: LAE online best calibrated among stochastic methods",
        source="Fig. 11 c table, Fig. 11",
        dataset="mnist",
        task="imputation",
        metrics=r"(authors/)?ece",
        needs="`ece` (mask upper_half)",
        paper="MNIST, upper half missing: LAE online ECE 0.12, MCE 0.16, RMSCE 0.13; best or tied (ensemble) "
        "among VAE, MC-AE, ensemble, post-hoc",
        rule=f"per convention, for each of ECE, MCE, RMSCE: LAE online minus each other stochastic method below "
        f"+{MARGIN} (non-inferiority: one unit of the paper's last printed digit; paired t over seeds)",
        judge=judge_imputation,
        figures=(figures.imputation_grids, figures.reliability),
    ),
    Claim(
        id="fig12",
        title="Semi-supervised KNN: LAE ahead of AE and VAE with 1-20 labels per class",
        source="Fig. 12",
        dataset="mnist",
        task="knn",
        metrics=r"accuracy/n=\d+",
        needs="`accuracy/n=<labels per class>` (single-label data)",
        paper="MNIST accuracy against labels per class (a figure, no published numbers): LAE above AE and VAE "
        "up to about 20 labels",
        rule="LAE online's accuracy minus AE's, and minus VAE's, above 0 at every label count <= 20 run (paired t "
        "over seeds)",
        judge=judge_fig12,
        figures=(figures.knn,),
    ),
    Claim(
        id="table4",
        title="CelebA KNN with 10 labels: LAE online best per attribute",
        source="Table 4",
        dataset="celeba",
        task="knn",
        metrics=r"accuracy/(?!n=).+",
        needs="`accuracy/<attribute>` (multi-label data, e.g. CelebA)",
        paper="accuracy per attribute, LAE online >= AE, VAE, MC-AE on each of 5 attributes and overall (0.74)",
        rule=f"on each attribute of the paper's table and overall: LAE online minus each other method above "
        f"-{MARGIN} (non-inferiority; paired t over seeds)",
        judge=judge_table4,
        figures=(bars.attributes,),
    ),
    Claim(
        id="fig7",
        title="Hessian cost: approximate diagonal linear, exact quadratic and out of memory first",
        source="Fig. 7",
        dataset="",
        task="hessian_scaling",
        metrics=r"time_s@side=\d+",
        needs="`time_s@side=<side>`",
        paper="exact diagonal out of memory at about 36x36x3 on an 11 GB GPU; approximate diagonal linear in "
        "pixels",
        rule="approx time slope in 0.7-1.3 (two one-sided tests) and memory slope below 1.3; exact memory (else "
        "time) slope above 1.6 (t on the fitted slope); exact's first over-budget side smaller than approx's "
        "(observed)",
        judge=judge_fig7,
        figures=(figures.scaling,),
    ),
)
