"""`imputation`: missing-data imputation by iterated encode-decode (section 5, Fig. 11, appendix A.3).

`protocol: ours` (default, the headline), on the first `max_test` test images: missing pixels (`mask`:
`upper_half`, rows above H//2; `full`: all, i.e. generation) start as uniform noise; observed pixels are clamped
after every pass, so an imputation never changes them. Stage 1: `sample(x, n_first)` starts `n_first` chains,
each run on with `sample(y, 1)` for `n_iterations` passes in all (a method whose samples carry
`Samples.member`, an ensemble, is called with `member=` so chain i stays with the member that started it and
the chains use every member); stage 2: `n_iterations` passes of y <- mean of `sample(y, n_refine)` (all
members, for an ensemble). Result: `n_first` imputations per input.
Metrics (per image, summed over the missing pixels against the TRUE image, averaged over images): `mse` =
squared error of the mean imputation; `log_px` = minus the squared error averaged over imputations (the
authors' "log p(x)" form: unit variance, no 0.5, no constant); `gaussian_log_px` = the proper
log (1/n_first) sum_i N(x_missing | imputation_i, I), constant included; `accuracy`, `ece`, `mce`, `rmsce` of a
small CNN (trained once per dataset via `ctx.aux_model`, `classifier_epochs` but at least 300 steps) on the
softmax averaged over imputations; `classifier/*`: the same CNN on the zero-filled masked input.
`protocol: authors`: the authors' procedure and scores, which the paper's table reports (noise-filled target,
all pixels, validation split, `authors_samples` samples, at most `max_val` images); metrics `authors/*`, see
`tasks/imputation_authors.py`. Not comparable with ours: their MSE mostly measures distance to the noise.
`full` writes `generation.png` only. Artifacts: `imputations.png`, `reliability.png`, `per_input.csv`.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd
import torch
from torch import nn

from laebench.params import Param

from . import metrics
from .base import EvalContext, Task
from .registry import register

MASKS = ("upper_half", "full")
PROTOCOLS = ("ours", "authors")
GRID_ROWS = 8
# min_steps: small sets (digits: 9 batches an epoch) would stay near-uniform after a few epochs
CLASSIFIER = {"arch": "conv16-conv32-linear", "lr": 1e-3, "batch_size": 128, "seed": 0, "min_steps": 300}


def observed_mask(image_shape: tuple[int, int, int], mask: str) -> torch.Tensor:
    """Boolean `[C, H, W]`, True where a pixel is observed (kept)."""
    c, h, w = image_shape
    observed = torch.zeros(c, h, w, dtype=torch.bool)
    if mask == "upper_half":
        observed[:, h // 2:, :] = True
    elif mask != "full":
        raise ValueError(f"Unknown mask '{mask}'. Available: {', '.join(MASKS)}.")
    return observed


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


@torch.no_grad()
def impute(method, x: torch.Tensor, observed: torch.Tensor, *, n_first: int, n_refine: int, n_iterations: int,
           seed: int, noise: torch.Tensor) -> torch.Tensor:
    """Imputations `[n_first, B, C, H, W]` of x `[B, C, H, W]`; `noise` (same shape as x) fills missing pixels."""
    observed = observed.to(x.device)

    def clamp(y):
        return torch.where(observed, x, y)

    first = method.sample(clamp(noise.to(x.device)), n_first, seed=_seed(seed, 1))
    chains = clamp(first.recon)
    out = []
    for i in range(n_first):
        y = chains[i]
        # an ensemble's chain stays with the member that started it (without the hint: always member 0)
        member = {} if first.member is None else {"member": int(first.member[i])}
        for t in range(1, n_iterations):
            y = clamp(method.sample(y, 1, seed=_seed(seed, 1, i, t), **member).recon[0])
        for t in range(n_iterations):
            y = clamp(method.sample(y, n_refine, seed=_seed(seed, 2, i, t)).recon.mean(0))
        out.append(y)
    return torch.stack(out)


def build_classifier(image_shape: tuple[int, int, int], n_classes: int) -> nn.Sequential:
    """Two conv-ReLU-maxpool blocks and a linear layer (H and W divisible by 4 not required)."""
    c, h, w = image_shape
    return nn.Sequential(nn.Conv2d(c, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * (h // 4) * (w // 4), n_classes))


def classifier_for(ctx: EvalContext, epochs: int) -> nn.Module:
    """The task's digit classifier for the experiment's training data, trained once (cached by `ctx.aux_model`)."""
    data = ctx.data
    n_classes = int(data.train_y.max()) + 1
    step = max(1, len(data.train_x) // 1000)
    fingerprint = hashlib.sha256(data.train_y.numpy().tobytes() + data.train_x[::step].numpy().tobytes()).hexdigest()
    identity = {"task": "imputation", "dataset": data.name, "n_train": len(data.train_x),
                "fingerprint": fingerprint[:16], "image_shape": list(data.image_shape), "n_classes": n_classes,
                "epochs": epochs, **CLASSIFIER}

    def build():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(CLASSIFIER["seed"])
            return build_classifier(data.image_shape, n_classes)

    def train(net):
        device = next(net.parameters()).device
        x, y = data.train_x.to(device), data.train_y.to(device)
        optimizer = torch.optim.Adam(net.parameters(), lr=CLASSIFIER["lr"])
        generator = torch.Generator().manual_seed(CLASSIFIER["seed"])
        net.train()
        n_epochs = max(epochs, math.ceil(CLASSIFIER["min_steps"] / math.ceil(len(x) / CLASSIFIER["batch_size"])))
        with torch.enable_grad():  # evaluate runs under no_grad
            _fit_classifier(net, x, y, n_epochs, optimizer, generator)

    if ctx.aux_model is None:  # outside the harness: train in place, uncached
        net = build().to(ctx.device)
        train(net)
        return net.eval()
    return ctx.aux_model(name="classifier", identity=identity, build=build, train=train, device=ctx.device)


def _fit_classifier(net, x, y, epochs, optimizer, generator) -> None:
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=generator).split(CLASSIFIER["batch_size"]):
            loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()


@register("imputation")
class Imputation(Task):
    description = "Missing-data imputation (upper half of the image): MSE, log p(x), classifier calibration"
    param_spec = {
        "mask": Param("upper_half", "Which pixels are missing.", kind="choice", choices=MASKS),
        "protocol": Param("ours", "ours (missing pixels vs the true image) or authors (their code's procedure and "
                          "target: the noise-filled input, summed over pixels).", kind="choice", choices=PROTOCOLS),
        "n_first": Param(5, "ours: imputation chains (samples) per image.", kind="int", low=1),
        "n_refine": Param(5, "ours: samples per refinement stage.", kind="int", low=1),
        "n_iterations": Param(10, "ours: iterations per stage.", kind="int", low=1),
        "max_test": Param(1000, "ours: the first this many test images; null: all.", kind="int", low=1, nullable=True),
        "batch_size": Param(500, "Images per batch.", kind="int", low=1),
        "classifier_epochs": Param(5, "Epochs of the classifier scoring the imputations.", kind="int", low=1),
        "authors_samples": Param(10, "authors: samples per stage (their code: 10).", kind="int", low=1),
        "max_val": Param(None, "authors: the first this many validation images; null: all.", kind="int", low=1, nullable=True),
    }
    directions = {"mse": "min", "log_px": "max", "gaussian_log_px": "max", "authors/mse*": "min",
                  "authors/log_px*": "max", "*accuracy": "max", "*ce": "min"}
    headline = ("ece", "authors/ece")

    @torch.no_grad()
    def evaluate(self, ctx: EvalContext) -> list[dict]:
        p = self.params
        if p["protocol"] == "authors":
            from .imputation_authors import evaluate_authors
            return evaluate_authors(p, ctx)
        observed = observed_mask(ctx.data.image_shape, p["mask"])
        x_all, y_all = ctx.data.test_x, ctx.data.test_y
        n_test = GRID_ROWS if p["mask"] == "full" else (p["max_test"] or len(x_all))
        x_all, y_all = x_all[:n_test], y_all[:n_test]
        generator = torch.Generator().manual_seed(ctx.seed)
        imputations = []
        for start in range(0, len(x_all), p["batch_size"]):
            x = x_all[start:start + p["batch_size"]].to(ctx.device)
            noise = torch.rand(x.shape, generator=generator)
            imputations.append(impute(ctx.method, x, observed, n_first=p["n_first"], n_refine=p["n_refine"],
                                      n_iterations=p["n_iterations"], seed=ctx.seed, noise=noise).cpu())
        imputations = torch.cat(imputations, 1)  # [n_first, N, C, H, W]
        ctx.artifact_dir.mkdir(parents=True, exist_ok=True)
        if p["mask"] == "full":
            _image_grid(imputations[:, :GRID_ROWS].transpose(0, 1), [f"sample {i + 1}" for i in range(p["n_first"])],
                        ctx.artifact_dir / "generation.png", f"{ctx.method_label}: generation from noise")
            return []

        missing = ~observed
        sq = ((imputations - x_all) ** 2 * missing).flatten(2).sum(-1)  # [n_first, N]
        n_missing = int(missing.sum())
        log_lik = -0.5 * sq - 0.5 * n_missing * math.log(2 * math.pi)
        gaussian_log_px = torch.logsumexp(log_lik, 0) - math.log(p["n_first"])
        mean_sq = ((imputations.mean(0) - x_all) ** 2 * missing).flatten(1).sum(-1)  # [N]
        paper_log_px = -sq.mean(0)
        rows = [{"metric": "mse", "value": float(mean_sq.mean())},
                {"metric": "log_px", "value": float(paper_log_px.mean())},
                {"metric": "gaussian_log_px", "value": float(gaussian_log_px.mean())}]
        table = pd.DataFrame({"label": y_all.numpy() if y_all.ndim == 1 else np.nan, "mse": mean_sq.numpy(),
                              "log_px": paper_log_px.numpy(), "gaussian_log_px": gaussian_log_px.numpy()})
        shown = torch.cat([x_all[:GRID_ROWS, None], (x_all * observed)[:GRID_ROWS, None],
                           imputations[:, :GRID_ROWS].transpose(0, 1)], 1)
        _image_grid(shown, ["true", "observed"] + [f"imputation {i + 1}" for i in range(p["n_first"])],
                    ctx.artifact_dir / "imputations.png", f"{ctx.method_label}: upper half missing")

        if ctx.data.train_y.ndim == 1:  # single-label data: the classifier's accuracy and calibration
            rows += classifier_scores(ctx, p, imputations, x_all * observed, y_all, table, "")
        table.to_csv(ctx.artifact_dir / "per_input.csv", index_label="index")
        return rows


def classifier_scores(ctx: EvalContext, p: dict, imputations: torch.Tensor, baseline: torch.Tensor,
                      labels: torch.Tensor, table: pd.DataFrame, prefix: str) -> list[dict]:
    """Accuracy and calibration of the classifier on the imputations (`[n, N, ...]`, probabilities averaged
    over the n) and on the `baseline` input (the `classifier/` rows), per-input predictions into `table`,
    and the reliability diagram. Metric names start with `prefix` (the protocol)."""
    net = classifier_for(ctx, p["classifier_epochs"])
    n = imputations.shape[0]
    probs = _predict(net, imputations.flatten(0, 1), p["batch_size"], ctx.device).view(n, len(labels), -1).mean(0)
    baseline_probs = _predict(net, baseline, p["batch_size"], ctx.device)
    rows = []
    for name, pr in ((prefix, probs), (prefix + "classifier/", baseline_probs)):
        rows.append({"metric": f"{name}accuracy", "value": metrics.accuracy(pr, labels)})
        rows += [{"metric": name + k, "value": v} for k, v in metrics.calibration_errors(pr, labels).items()]
    table["pred"], table["confidence"] = probs.argmax(1).numpy(), probs.max(1).values.numpy()
    table["classifier_pred"] = baseline_probs.argmax(1).numpy()
    table["classifier_confidence"] = baseline_probs.max(1).values.numpy()
    _reliability(probs, baseline_probs, labels, ctx)
    return rows


def _predict(net: nn.Module, x: torch.Tensor, batch_size: int, device) -> torch.Tensor:
    return torch.cat([net(xb.to(device)).softmax(1).cpu() for xb in x.split(batch_size)])


def _image_grid(images: torch.Tensor, columns: list[str], path, title: str) -> None:
    """images `[rows, cols, C, H, W]` as one tiled picture, a column label each."""
    from matplotlib.figure import Figure

    rows, cols, c, h, w = images.shape
    canvas = torch.ones(rows * (h + 1) + 1, cols * (w + 1) + 1, c)
    for r in range(rows):
        for k in range(cols):
            canvas[1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + k * (w + 1): 1 + k * (w + 1) + w] = \
                images[r, k].clamp(0, 1).permute(1, 2, 0)
    fig = Figure(figsize=(1.0 + 0.9 * cols, 0.6 + 0.9 * rows), layout="constrained")
    ax = fig.subplots()
    ax.imshow(canvas.squeeze(-1).numpy() if c == 1 else canvas.numpy(), cmap="gray", vmin=0, vmax=1)
    ax.set_xticks([1 + k * (w + 1) + w / 2 for k in range(cols)], columns, rotation=30, fontsize=7)
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    fig.savefig(path, dpi=100)


def _reliability(probs: torch.Tensor, masked_probs: torch.Tensor, labels: torch.Tensor, ctx: EvalContext) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.4), layout="constrained")
    for ax, (name, pr) in zip(fig.subplots(1, 2), ((f"{ctx.method_label} imputations", probs),
                                                   ("classifier on masked input", masked_probs))):
        bins = metrics.calibration_bins(pr, labels)
        centers = (bins["edges"][:-1] + bins["edges"][1:]) / 2
        width = bins["edges"][1] - bins["edges"][0]
        full = bins["count"] > 0
        ax.bar(centers[full], bins["accuracy"][full], width=width, edgecolor="k", lw=0.5, label="accuracy")
        ax.bar(centers[full], bins["confidence"][full] - bins["accuracy"][full], bottom=bins["accuracy"][full],
               width=width, color="tab:red", alpha=0.3, label="gap")
        ax.plot([0, 1], [0, 1], color="grey", ls=":")
        errors = metrics.calibration_errors(pr, labels)
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="accuracy",
               title=f"{name}\nECE {errors['ece']:.3f}, MCE {errors['mce']:.3f}")
        ax.title.set_fontsize(8)
        ax.legend(fontsize=7, loc="upper left")
    fig.savefig(ctx.artifact_dir / "reliability.png", dpi=100)
