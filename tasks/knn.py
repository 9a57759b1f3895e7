"""`knn`: semi-supervised KNN on embeddings with few labels (section 5, Fig. 12, Table 4, appendix A.4).

All embeddings come from the validation split: each point gets `n_embed` latent samples from
`Method.sample` (one when the samples are identical, i.e. a deterministic method). Per repetition r and
label count n, `labelled_split` draws exactly n labelled points per class (seeded by trial seed and r; the
draws are nested in n); a KNeighborsClassifier is fitted on every latent sample of the labelled points, with
k chosen by 2-fold cross-validation over `k_grid` (folds keep all samples of a point together and alternate
over the class-ordered points, so they are stratified; k never exceeds a training fold's size); accuracy
is measured on the REMAINING validation points, each embedded by its mean latent (at most `max_eval` of them, in a
seeded random order). `eval_embedding: sample` embeds each evaluation point by one latent sample instead (the first:
for the online LAE the same sampled network for every point), as the authors' notebook
(FrederikWarburg/LaplaceAE `src/notebooks/semi_mnist.ipynb`) does; that notebook also labels with 100 samples
(`n_embed: 100`), picks k in 1-10 by a 2-fold CV that splits a point's samples across folds, and evaluates the
first 500 points of a class-sorted set (mostly zeros): those two are flaws, not reproduced here.
Metrics: `accuracy/n=<n>` (mean over repetitions). Multi-label data (`y [N, A]`, e.g. CelebA):
`labels_multilabel` (10, the paper's "10 labelled datapoints") points in total, drawn at random; metrics
`accuracy/<attribute>` and `accuracy/overall` (mean over attributes). Label counts that would leave a
class without an unlabelled point are skipped (with a warning).
Ensembles (samples that carry `Samples.member`): the members' latent spaces are unrelated (each is its own
AE's, up to any rotation or permutation), so pooling their embeddings, or averaging a point's latents across
members, would mix coordinates that mean different things. Instead each member gets its own KNN (its own
samples, its own mean latents, k chosen per member as above) and the prediction is the majority vote over
members (per attribute for multi-label data; a tie goes to the tied class with the larger summed predicted
probability). `accuracy/*` is the vote's accuracy; `member_accuracy/n=<n>` (multi-label:
`member_accuracy/overall`) the accuracy of the members' own KNNs, averaged over members.
Artifacts: `accuracies.csv` (per repetition), `accuracy_vs_labels.png`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import torch

from laebench.params import Param
from tasks.knn_fit import fit_knn, labelled_split, majority_vote, multilabel_split

from .base import EvalContext, Task, sample_all
from .registry import register

COLUMNS = ["repetition", "n", "attribute", "accuracy", "member_accuracy", "k", "n_eval"]


@register("knn")
class KNN(Task):
    description = "Semi-supervised KNN accuracy on latent embeddings with few labels per class"
    param_spec = {
        "labels_per_class": Param(
            [1, 2, 4, 6, 8, 10, 15, 25, 50, 100],
            "Labelled training images per class.",
            kind="list",
            item=Param(1, "", kind="int", low=1),
        ),
        "repetitions": Param(5, "Random labelled subsets per label count.", kind="int", low=1),
        "n_embed": Param(100, "Samples averaged into an input's embedding.", kind="int", low=1),
        "max_eval": Param(
            None,
            "The first this many evaluation images; null: all.",
            kind="int",
            low=1,
            nullable=True,
        ),
        "cv_folds": Param(2, "Cross-validation folds choosing k.", kind="int", low=2),
        "k_grid": Param(
            [1, 3, 5, 7, 9, 15],
            "Candidate numbers of neighbours.",
            kind="list",
            item=Param(1, "", kind="int", low=1),
        ),
        "labels_multilabel": Param(
            10, "Multi-label data (CelebA): labelled images per attribute.", kind="int", low=1
        ),
        "batch_size": Param(
            100,
            "Inputs per sample() call, each returning n_embed reconstructions.",
            kind="int",
            low=1,
        ),
        "eval_embedding": Param(
            "mean",
            "How an evaluation point is embedded: 'mean' (ours: the mean of its n_embed "
            "latent samples) or 'sample' (the authors' notebook: one sample, for the online LAE "
            "one sampled network for every point).",
            kind="choice",
            choices=("mean", "sample"),
        ),
    }
    directions = {"accuracy/*": "max", "member_accuracy/*": "max"}
    headline = ("accuracy/n=10", "accuracy/overall")

    def check_data(self, data: dict) -> str:
        y = data["train"].val_y if "train" in data else None
        if y is None or y.ndim != 1:
            if y is not None and self.params["labels_multilabel"] >= len(y):
                return (
                    f"knn.labels_multilabel {self.params['labels_multilabel']} leaves no validation point to "
                    f"evaluate ({len(y)} in all). Lower it."
                )
            return ""
        smallest = int(min((y == c).sum() for c in y.unique()))
        too_many = [n for n in self.params["labels_per_class"] if n >= smallest]
        if too_many:
            return (
                f"knn.labels_per_class {too_many} would label every validation point of the smallest class "
                f"({smallest} points), leaving none to evaluate. Use counts below {smallest} (or more data)."
            )
        return ""

    @torch.no_grad()
    def embed(self, ctx: EvalContext, x_all: torch.Tensor) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per latent space: latent samples `[N, S, K]` (S = 1 when identical, e.g. a deterministic method)
        and mean latents `[N, K]`. One space, or one per member when the samples carry `Samples.member`."""
        samples, members, size = [], None, self.params["batch_size"]
        for start, out in zip(
            range(0, len(x_all), size),
            sample_all(
                ctx.method,
                x_all,
                self.params["n_embed"],
                seed=ctx.seed,
                batch_size=size,
                decode=False,
            ),
        ):
            samples.append(out.latents.cpu())
            batch_members = None if out.member is None else out.member.cpu()
            same = members is batch_members is None or (
                members is not None
                and batch_members is not None
                and torch.equal(members, batch_members)
            )
            if start and not same:
                raise ValueError(
                    "knn: the method's samples changed their member indices between batches."
                )
            members = batch_members
        z_all = torch.cat(samples, 1).transpose(0, 1).contiguous()  # [N, S, K]
        groups = [slice(None)] if members is None else [members == m for m in members.unique()]
        spaces = []
        for which in groups:
            z = z_all[:, which]
            if bool((z == z[:, :1]).all()):
                z = z[:, :1]
            spaces.append(
                (
                    z.numpy(),
                    (z.mean(1) if self.params["eval_embedding"] == "mean" else z[:, 0]).numpy(),
                )
            )
        return spaces

    def evaluate(self, ctx: EvalContext) -> list[dict]:
        p = self.params
        x, y = ctx.data.val_x, ctx.data.val_y.numpy()
        spaces = self.embed(ctx, x)
        records = []
        multilabel = y.ndim == 2
        counts = [p["labels_multilabel"]] if multilabel else list(p["labels_per_class"])
        # a label count must leave every class (multi-label: the split) an unlabelled point
        smallest = len(y) if multilabel else int(min((y == c).sum() for c in np.unique(y)))
        for rep in range(p["repetitions"]):
            order = np.random.default_rng([ctx.seed, rep, 1]).permutation(len(y))
            for n in counts:
                if n < smallest:
                    records += self.records_of(ctx, spaces, y, rep, n, order)
        skipped = [n for n in counts if n >= smallest]
        if skipped:
            warnings.warn(
                f"knn: skipped label counts {skipped}: the smallest class has only {smallest} points."
            )
        table = pd.DataFrame(records, columns=COLUMNS)
        ctx.artifact_dir.mkdir(parents=True, exist_ok=True)
        table.to_csv(ctx.artifact_dir / "accuracies.csv", index=False)
        if table.empty:
            return []
        ensemble = len(spaces) > 1
        if multilabel:
            return _multilabel_rows(table, ensemble)
        _plot(table, ctx)
        return _rows_by_count(table, ensemble)

    def records_of(
        self,
        ctx: EvalContext,
        spaces: list[tuple[np.ndarray, np.ndarray]],
        y: np.ndarray,
        rep: int,
        n: int,
        order: np.ndarray,
    ) -> list[dict]:
        """The `accuracies.csv` records of repetition `rep` with `n` labels (per class, or in all for
        multi-label data): one record, or one per attribute. `order` is the repetition's order of the
        evaluation points."""
        p = self.params
        labelled, rest = (
            multilabel_split(len(y), n, ctx.seed, rep)
            if y.ndim == 2
            else labelled_split(y, n, ctx.seed, rep)
        )
        eval_idx = order[np.isin(order, rest)][: p["max_eval"] or None]
        knns = [fit_knn(z[labelled], y[labelled], p["k_grid"], p["cv_folds"]) for z, _ in spaces]
        correct, member_correct = _correct(
            knns, [z_mean[eval_idx] for _, z_mean in spaces], y[eval_idx]
        )
        k = knns[0].n_neighbors if len(knns) == 1 else "/".join(str(m.n_neighbors) for m in knns)
        if y.ndim == 1:
            per_attribute = [("", correct.mean(), member_correct.mean())]
        else:
            names = ctx.data.label_names or [f"attr{i}" for i in range(y.shape[1])]
            per_attribute = zip(names, correct.mean(0), member_correct.mean(0))
        return [
            {
                "repetition": rep,
                "n": n,
                "attribute": a,
                "accuracy": float(c),
                "member_accuracy": float(mc),
                "k": k,
                "n_eval": len(eval_idx),
            }
            for a, c, mc in per_attribute
        ]


def _correct(
    knns: list, z_eval: list[np.ndarray], y_eval: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Whether each evaluation point's prediction is right (an ensemble's: the members' majority vote), and the
    fraction of the members' own KNNs that are right (NaN for one latent space)."""
    if len(knns) == 1:
        correct = knns[0].predict(z_eval[0]) == y_eval
        return correct, np.full(correct.shape, np.nan)
    correct = majority_vote(knns, z_eval) == y_eval
    member_correct = np.mean([knn.predict(z) == y_eval for knn, z in zip(knns, z_eval)], 0)
    return correct, member_correct


def _multilabel_rows(table: pd.DataFrame, ensemble: bool) -> list[dict]:
    """`accuracy/<attribute>`, `accuracy/overall` and (ensembles) `member_accuracy/overall`."""
    per_attr = table.groupby("attribute", sort=False).accuracy.mean()
    return (
        [{"metric": f"accuracy/{a}", "value": float(v)} for a, v in per_attr.items()]
        + [{"metric": "accuracy/overall", "value": float(per_attr.mean())}]
        + [{"metric": "member_accuracy/overall", "value": float(table.member_accuracy.mean())}]
        * ensemble
    )


def _rows_by_count(table: pd.DataFrame, ensemble: bool) -> list[dict]:
    """`accuracy/n=<n>` and (ensembles) `member_accuracy/n=<n>`, averaged over repetitions."""
    by_n = table.groupby("n")
    return [
        {"metric": f"accuracy/n={n}", "value": float(v)} for n, v in by_n.accuracy.mean().items()
    ] + [
        {"metric": f"member_accuracy/n={n}", "value": float(v)}
        for n, v in by_n.member_accuracy.mean().items()
    ] * ensemble


def _plot(table: pd.DataFrame, ctx: EvalContext) -> None:
    from matplotlib.figure import Figure

    stats = table.groupby("n").accuracy.agg(["mean", "std", "min", "max"]).fillna(0.0)
    fig = Figure(figsize=(4.5, 3.2))  # fixed margins: a constrained layout doubled the drawing time
    ax = fig.add_axes((0.14, 0.14, 0.83, 0.76))
    ax.fill_between(
        stats.index, stats["min"], stats["max"], alpha=0.2, label="min-max over repetitions"
    )
    ax.errorbar(
        stats.index,
        stats["mean"],
        yerr=stats["std"],
        marker="o",
        ms=3,
        capsize=2,
        label="mean ± std",
    )
    ax.set(
        xscale="log",
        xlabel="labels per class",
        ylabel="accuracy",
        title=f"{ctx.experiment} / {ctx.method_label} (seed {ctx.seed})",
    )
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7)
    fig.savefig(ctx.artifact_dir / "accuracy_vs_labels.png", dpi=100)
