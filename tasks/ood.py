"""`ood`: out-of-distribution detection from `Method.sample` (section 5, Table 3, Figs. 9-10, appendix A.2).

In-distribution inputs are the test split of the experiment's `data.train`; OOD inputs the test split of
`data.ood` (the positive class). Per input, from n samples: `log_px` (tasks.reconstruction.gaussian_log_px),
`typicality` (Nalisnick et al., 2019: |log p(x) - mean log p over a training subset|), `sigma2_output`
(mean over pixels of the variance across samples, population form, plus the mean predicted variance where
the method returns one) and `sigma2_latent` (mean over latent dimensions of the variance across samples).
Scores are oriented so that higher = more OOD (-log p(x); the others as they are). Metrics per score:
`auroc/<score>`, `aupr/<score>`, `fpr95/<score>`; a method without variance (zero across samples and no
predicted variance) emits no variance metrics. Artifacts: `scores.csv` (per input: `set`, `is_ood`, the raw
`log_px_raw` = log p(x), and one column per emitted score, oriented; every metric is recomputable from it,
e.g. roc_auc_score(is_ood, log_px)), `roc_curves.png` (Fig. 9), `variance_histograms.png` (Fig. 10).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_curve

from . import metrics
from .base import EvalContext, Task
from .reconstruction import gaussian_log_px
from .registry import register

SCORES = ("log_px", "typicality", "sigma2_output", "sigma2_latent")
VARIANCE_SCORES = ("sigma2_output", "sigma2_latent")


@register("ood")
class OOD(Task):
    description = "OOD detection (in: data.train test split, out: data.ood test split): AUROC, AUPR, FPR@95"
    default_params = {"n_samples": 10, "batch_size": 500, "max_test": None, "typicality_train": 2000}
    data_roles = ("ood",)
    directions = {"auroc/*": "max", "aupr/*": "max", "fpr95/*": "min"}

    @classmethod
    def validate_params(cls, params: dict) -> dict:
        p = super().validate_params(params)
        for key in ("n_samples", "batch_size", "max_test", "typicality_train"):
            v = p[key]
            if not (isinstance(v, int) and v > 0) and not (key in ("max_test", "typicality_train") and v is None):
                raise ValueError(f"ood.{key} must be a positive integer. Got {v!r}.")
        return p

    def evaluate(self, ctx: EvalContext) -> list[dict]:
        p = self.params
        x_in, x_out = ctx.data.test_x, ctx.extra_data["ood"].test_x
        if x_in.shape[1:] != x_out.shape[1:]:
            raise ValueError(f"OOD images must have the in-distribution shape {tuple(x_in.shape[1:])}. "
                             f"Got {tuple(x_out.shape[1:])} from '{ctx.extra_data['ood'].name}'.")
        if p["max_test"]:
            x_in, x_out = x_in[: p["max_test"]], x_out[: p["max_test"]]
        train = ctx.data.train_x
        if p["typicality_train"] and p["typicality_train"] < len(train):
            pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(ctx.seed))
            train = train[pick[: p["typicality_train"]].sort().values]

        stats_in, stats_out = self.statistics(ctx, x_in), self.statistics(ctx, x_out)
        train_mean_log_px = float(self.statistics(ctx, train)["log_px"].mean())
        has = {"sigma2_output": stats_in["predicted"] or bool((stats_in["sigma2_output"] > 0).any()
                                                             or (stats_out["sigma2_output"] > 0).any()),
               "sigma2_latent": bool((stats_in["sigma2_latent"] > 0).any() or (stats_out["sigma2_latent"] > 0).any())}
        table = pd.DataFrame({
            "set": ["in"] * len(x_in) + ["ood"] * len(x_out),
            "is_ood": np.r_[np.zeros(len(x_in), int), np.ones(len(x_out), int)],
            "log_px_raw": np.r_[stats_in["log_px"], stats_out["log_px"]]})
        table["log_px"] = -table["log_px_raw"]
        table["typicality"] = (table["log_px_raw"] - train_mean_log_px).abs()
        emitted = ["log_px", "typicality"] + [s for s in VARIANCE_SCORES if has[s]]
        for s in VARIANCE_SCORES:
            if has[s]:
                table[s] = np.r_[stats_in[s], stats_out[s]]
        ctx.artifact_dir.mkdir(parents=True, exist_ok=True)
        table.to_csv(ctx.artifact_dir / "scores.csv", index=False)

        rows = []
        for s in emitted:
            score, label = table[s].to_numpy(), table["is_ood"].to_numpy()
            rows += [{"metric": f"auroc/{s}", "value": metrics.auroc(score, label)},
                     {"metric": f"aupr/{s}", "value": metrics.aupr(score, label)},
                     {"metric": f"fpr95/{s}", "value": metrics.fpr95(score, label)}]
        _plot_roc(table, emitted, ctx)
        _plot_histograms(table, [s for s in VARIANCE_SCORES if has[s]], ctx)
        return rows

    @torch.no_grad()
    def statistics(self, ctx: EvalContext, x_all: torch.Tensor) -> dict:
        """Per-input log p(x), sigma2_output, sigma2_latent (numpy) and whether a variance was predicted."""
        out = {"log_px": [], "sigma2_output": [], "sigma2_latent": [], "predicted": False}
        for start in range(0, len(x_all), self.params["batch_size"]):
            x = x_all[start:start + self.params["batch_size"]].to(ctx.device)
            s = ctx.method.sample(x, self.params["n_samples"], seed=ctx.seed)
            out["log_px"].append(gaussian_log_px(x, s.recon, s.variance).cpu())
            sigma2_out = s.recon.var(0, unbiased=False).flatten(1).mean(1)
            if s.variance is not None:
                sigma2_out = sigma2_out + s.variance.mean(0).flatten(1).mean(1)
                out["predicted"] = True
            out["sigma2_output"].append(sigma2_out.cpu())
            out["sigma2_latent"].append(s.latents.var(0, unbiased=False).mean(1).cpu())
        for key in ("log_px", "sigma2_output", "sigma2_latent"):
            out[key] = torch.cat(out[key]).double().numpy()
        return out


def _plot_roc(table: pd.DataFrame, scores: list[str], ctx: EvalContext) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.2 * len(scores), 3.2), layout="constrained")
    for ax, s in zip(fig.subplots(1, len(scores), squeeze=False)[0], scores):
        fpr, tpr, _ = roc_curve(table["is_ood"], table[s])
        ax.plot(fpr, tpr, lw=1.5)
        ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1)
        ax.set(title=f"{s} (AUROC {metrics.auroc(table[s], table['is_ood']):.3f})", xlabel="FPR", ylabel="TPR",
               xlim=(0, 1), ylim=(0, 1.01))
    fig.suptitle(f"{ctx.experiment} / {ctx.method_label}: OOD ROC (seed {ctx.seed})")
    fig.savefig(ctx.artifact_dir / "roc_curves.png", dpi=100)


def _plot_histograms(table: pd.DataFrame, scores: list[str], ctx: EvalContext) -> None:
    if not scores:
        return
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.6 * len(scores), 3.0), layout="constrained")
    for ax, s in zip(fig.subplots(1, len(scores), squeeze=False)[0], scores):
        values = np.log10(np.maximum(table[s].to_numpy(), 1e-12))
        bins = np.histogram_bin_edges(values, bins=40)
        for flag, name in ((0, "in-distribution"), (1, "OOD")):
            ax.hist(values[table["is_ood"].to_numpy() == flag], bins=bins, alpha=0.55, density=True, label=name)
        ax.set(xlabel=f"log10 {s}", ylabel="density")
        ax.legend(fontsize=8)
    fig.suptitle(f"{ctx.experiment} / {ctx.method_label}: variance, in vs OOD")
    fig.savefig(ctx.artifact_dir / "variance_histograms.png", dpi=100)
