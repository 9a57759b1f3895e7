"""`ood`: out-of-distribution detection from `Method.sample` (section 5, Table 3, Figs. 9-10, appendix A.2).

In-distribution inputs are the `split` (`test`, or `validation` as the authors: their 5,000-image held-out
part of the training set; ours is `min(5000, N/5)` training images drawn with a fixed seed, see
`harness.datasets`) of the experiment's `data.train`; OOD inputs the same split of `data.ood` (the positive
class). Scores per input come from n samples (`tasks.ood_scores`) in two conventions: ours (`auroc/<score>`)
and the authors' (`auroc/authors/<score>`: sums of standard deviations, mean squared error), for the scores
`log_px`, `typicality`, `sigma2_output`, `sigma2_latent`, oriented so that higher = more OOD. The typicality
reference is `typicality_train` random training images (null: the whole training set, as the authors).
`n_samples` is a number or a mapping by method label or method key with a `default` (the authors drew 10
networks for the online LAE, 50 for post-hoc, 100 for MC dropout). Metrics per score and convention: `auroc`,
`aupr`, `fpr95`; a method without variance (zero across samples and no predicted variance) emits no variance
metrics. Artifacts: `scores.csv` (per input: `set`, `is_ood`, `log_px_raw` = log p(x), one column per emitted
score; every metric is recomputable from it, e.g. roc_auc_score(is_ood, table["authors/sigma2_output"])),
`roc_curves.png` (Fig. 9), `variance_histograms.png` (Fig. 10).
Explaining an inverted variance score: `ink` (mean pixel intensity per input) is in `scores.csv`,
`auroc/ink` is the AUROC of ink alone (a method-free baseline: FashionMNIST has about twice MNIST's ink), and
`spearman_ink/<score>` the rank correlation of each variance score with ink over all inputs: a posterior that
is isotropic noise gives output variance ~ ink (spearman near 1) and an AUROC near `auroc/ink`.
`auroc_inkmatched/<score>`: the AUROC over in/OOD pairs of the same ink decile (`tasks.metrics.matched_auroc`),
what a score detects beyond brightness (0.5 for a score that only follows ink). Every input of an evaluation is
scored by the same n networks (`Method.sample_all`); the typicality reference's means depend on the model only
and are kept next to it (`EvalContext.remember`), so another evaluation of the model reuses them.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd
import torch

from laebench.fingerprint import fingerprint
from laebench.params import Param

from . import metrics
from .base import EvalContext, Task, sample_all
from .ood_figures import plot_histograms, plot_roc
from .ood_scores import batch_scores, oriented
from .registry import register

SCORES = ("log_px", "typicality", "sigma2_output", "sigma2_latent")
VARIANCE_SCORES = ("sigma2_output", "sigma2_latent")
CONVENTIONS = {"ours": "", "authors": "authors/"}  # convention -> metric-name infix
SPLITS = {"test": "test", "validation": "val"}


def _positive_int(v) -> bool:
    return isinstance(v, Integral) and not isinstance(v, bool) and v > 0


@register("ood")
class OOD(Task):
    description = "OOD detection (in: data.train, out: data.ood; test or validation split): AUROC, AUPR, FPR@95"
    param_spec = {
        "n_samples": Param(
            10,
            "Samples per image: an integer, or per method label/key with a 'default'.",
            kind="any",
            accepts="a positive integer or a mapping of method labels/keys to positive "
            "integers with a 'default'",
        ),
        "batch_size": Param(500, "Images per batch.", kind="int", low=1),
        "max_test": Param(
            None,
            "The first this many in and OOD evaluation images; null: all.",
            kind="int",
            low=1,
            nullable=True,
        ),
        "typicality_train": Param(
            2000,
            "Training images forming the typicality reference; null: all (authors).",
            kind="int",
            low=1,
            nullable=True,
        ),
        "split": Param(
            "test",
            "Evaluation split: test, or the authors' 5,000-image validation split.",
            kind="choice",
            choices=SPLITS,
        ),
    }
    data_roles = ("ood",)
    directions = {"auroc/*": "max", "auroc_inkmatched/*": "max", "aupr/*": "max", "fpr95/*": "min"}
    headline = ("auroc/sigma2_output", "auroc/log_px")

    @classmethod
    def validate_params(cls, params: dict) -> dict:
        p = super().validate_params(params)
        n = p["n_samples"]
        if isinstance(n, dict):
            bad = {k: v for k, v in n.items() if not _positive_int(v)}
            if bad or "default" not in n:
                raise ValueError(
                    f"ood.n_samples must be a positive integer or a mapping of method labels/keys to "
                    f"positive integers with a 'default'. Got {n!r}."
                )
        elif not _positive_int(n):
            raise ValueError(f"ood.n_samples must be a positive integer. Got {n!r}.")
        return p

    def check_data(self, data: dict) -> str:
        if (
            "train" in data
            and "ood" in data
            and data["train"].image_shape != data["ood"].image_shape
        ):
            return (
                f"data.ood ({data['ood'].name}) has images {tuple(data['ood'].image_shape)}, data.train "
                f"({data['train'].name}) {tuple(data['train'].image_shape)}: OOD images must have the "
                f"in-distribution shape. Pick a pair of the same size (mnist / fashionmnist)."
            )
        return ""

    def samples_for(self, ctx: EvalContext) -> int:
        """n_samples for this trial's method: by label, then by registry key, then `default`."""
        n = self.params["n_samples"]
        if not isinstance(n, dict):
            return n
        key = getattr(ctx.method, "key", None)
        return n.get(ctx.method_label, n.get(key, n["default"]))

    def evaluate(self, ctx: EvalContext) -> list[dict]:
        x_in, x_out = self.inputs_of(ctx)
        n = self.samples_for(ctx)
        stats_in = self.statistics_of(ctx.method, x_in, n, ctx.seed, ctx.device)
        stats_out = self.statistics_of(ctx.method, x_out, n, ctx.seed, ctx.device)
        reference = self.typicality_reference(ctx, n)
        both = {k: torch.cat([stats_in[k], stats_out[k]]) for k in stats_in if k != "predicted"}
        scores = oriented(both, reference)
        has = {
            "sigma2_output": stats_in["predicted"] or bool((both["sigma2_output"] > 0).any()),
            "sigma2_latent": bool((both["sigma2_latent"] > 0).any()),
        }
        variances = [s for s in VARIANCE_SCORES if has[s]]
        emitted = ["log_px", "typicality"] + variances
        table = _score_table(x_in, x_out, both["log_px"], scores, emitted)
        ctx.artifact_dir.mkdir(parents=True, exist_ok=True)
        table.to_csv(ctx.artifact_dir / "scores.csv", index=False)
        rows = _metric_rows(table, emitted, variances)
        plot_roc(table, emitted + [f"authors/{s}" for s in emitted if s in VARIANCE_SCORES], ctx)
        plot_histograms(table, variances, ctx)
        return rows

    def inputs_of(self, ctx: EvalContext) -> tuple[torch.Tensor, torch.Tensor]:
        """The in-distribution and OOD images of the `split` (the first `max_test` of each); raises ValueError
        when their shapes differ."""
        p = self.params
        split = SPLITS[p["split"]]
        x_in, x_out = ctx.data.split(split)[0], ctx.extra_data["ood"].split(split)[0]
        if x_in.shape[1:] != x_out.shape[1:]:
            raise ValueError(
                f"OOD images must have the in-distribution shape {tuple(x_in.shape[1:])}. "
                f"Got {tuple(x_out.shape[1:])} from '{ctx.extra_data['ood'].name}'."
            )
        if p["max_test"]:
            x_in, x_out = x_in[: p["max_test"]], x_out[: p["max_test"]]
        return x_in, x_out

    def typicality_reference(self, ctx: EvalContext, n: int) -> dict[str, torch.Tensor]:
        """The means of `log_px` and `authors_sse` over the typicality reference (`typicality_train` random
        training images), each a float64 tensor `[1]`; kept next to the model (`EvalContext.remember`)."""
        p = self.params
        train = ctx.data.train_x
        if p["typicality_train"] and p["typicality_train"] < len(train):
            pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(ctx.seed))
            train = train[pick[: p["typicality_train"]].sort().values]
        # the reference depends on the model, not on the test sets: kept next to the model (ModelCache.derived)
        identity = {
            "typicality_train": p["typicality_train"],
            "n_samples": n,
            "seed": ctx.seed,
            "train_images": len(ctx.data.train_x),
            "code": fingerprint(type(self)),
        }
        reference = ctx.remember(
            "typicality_reference",
            identity,
            lambda: {
                k: float(v.mean())
                for k, v in self.statistics_of(ctx.method, train, n, ctx.seed, ctx.device).items()
                if k in ("log_px", "authors_sse")
            },
        )
        return {k: torch.tensor([v], dtype=torch.float64) for k, v in reference.items()}

    @torch.no_grad()
    def statistics_of(self, method, x_all: torch.Tensor, n: int, seed: int, device="cpu") -> dict:
        """Per-input raw statistics of both conventions (CPU tensors) and whether a variance was predicted, every
        input scored by the same n networks."""
        parts, predicted, size = [], False, self.params["batch_size"]
        for start, s in zip(
            range(0, len(x_all), size), sample_all(method, x_all, n, seed=seed, batch_size=size)
        ):
            x = x_all[start : start + size].to(device)
            predicted = predicted or s.variance is not None
            parts.append({k: v.double().cpu() for k, v in batch_scores(x, s).items()})
        out = {k: torch.cat([part[k] for part in parts]) for k in parts[0]}
        out["predicted"] = predicted
        return out


def _score_table(
    x_in: torch.Tensor,
    x_out: torch.Tensor,
    log_px: torch.Tensor,
    scores: dict[str, dict[str, torch.Tensor]],
    emitted: list[str],
) -> pd.DataFrame:
    """`scores.csv`: per input its `set`, `is_ood`, `log_px_raw` (log p(x)), `ink` (mean pixel intensity) and
    each emitted score in both conventions (`scores`: convention -> score -> `[N_in + N_out]`)."""
    table = pd.DataFrame(
        {
            "set": ["in"] * len(x_in) + ["ood"] * len(x_out),
            "is_ood": np.r_[np.zeros(len(x_in), int), np.ones(len(x_out), int)],
            "log_px_raw": log_px.double().numpy(),
            "ink": torch.cat([x_in.flatten(1).mean(1), x_out.flatten(1).mean(1)]).double().numpy(),
        }
    )
    for convention, infix in CONVENTIONS.items():
        for s in emitted:
            table[infix + s] = scores[convention][s].double().numpy()
    return table


def _metric_rows(table: pd.DataFrame, emitted: list[str], variances: list[str]) -> list[dict]:
    """The metric rows from `scores.csv`'s table: AUROC, AUPR and FPR@95 per emitted score and convention,
    `auroc/ink`, the ink-matched AUROCs and each variance score's rank correlation with ink."""
    rows, label = [], table["is_ood"].to_numpy()
    for infix in CONVENTIONS.values():
        for s in emitted:
            score = table[infix + s].to_numpy()
            rows += [
                {"metric": f"auroc/{infix}{s}", "value": metrics.auroc(score, label)},
                {"metric": f"aupr/{infix}{s}", "value": metrics.aupr(score, label)},
                {"metric": f"fpr95/{infix}{s}", "value": metrics.fpr95(score, label)},
            ]
    rows.append({"metric": "auroc/ink", "value": metrics.auroc(table["ink"].to_numpy(), label)})
    for infix in CONVENTIONS.values():  # detection beyond brightness: AUROC over ink-matched pairs
        for s in emitted:
            rows.append(
                {
                    "metric": f"auroc_inkmatched/{infix}{s}",
                    "value": metrics.matched_auroc(table[infix + s], label, table["ink"]),
                }
            )
    for infix in CONVENTIONS.values():
        for s in variances:
            from scipy.stats import spearmanr  # on use: importing the task loads no scipy

            rho = spearmanr(table[infix + s], table["ink"]).statistic
            rows.append({"metric": f"spearman_ink/{infix}{s}", "value": float(rho)})
    return rows
