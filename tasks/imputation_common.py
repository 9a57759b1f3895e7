"""What both imputation protocols share (`tasks.imputation`, `tasks.imputation_authors`): the mask of observed
pixels, seeds mixed from parts, the digit classifier that scores imputations (trained once per training set through
`EvalContext.aux_model`), its calibration figures and the image grids."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd
import torch
from torch import nn

from . import metrics
from .base import EvalContext

GRID_ROWS = 8
MASKS = ("upper_half", "full")
# min_steps: small sets (digits: 9 batches an epoch) would stay near-uniform after a few epochs
CLASSIFIER = {
    "arch": "conv16-conv32-linear",
    "lr": 1e-3,
    "batch_size": 128,
    "seed": 0,
    "min_steps": 300,
}


def observed_mask(image_shape: tuple[int, int, int], mask: str) -> torch.Tensor:
    """Boolean `[C, H, W]`, True where a pixel is observed (kept)."""
    c, h, w = image_shape
    observed = torch.zeros(c, h, w, dtype=torch.bool)
    if mask == "upper_half":
        observed[:, h // 2 :, :] = True
    elif mask != "full":
        raise ValueError(f"Unknown mask '{mask}'. Available: {', '.join(MASKS)}.")
    return observed


def mix_seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def build_classifier(image_shape: tuple[int, int, int], n_classes: int) -> nn.Sequential:
    """Two conv-ReLU-maxpool blocks and a linear layer (H and W divisible by 4 not required)."""
    c, h, w = image_shape
    return nn.Sequential(
        nn.Conv2d(c, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * (h // 4) * (w // 4), n_classes),
    )


def classifier_for(ctx: EvalContext, epochs: int) -> nn.Module:
    """The task's digit classifier for the experiment's training data, trained once (cached by `ctx.aux_model`)."""
    data = ctx.data
    n_classes = int(data.train_y.max()) + 1
    step = max(1, len(data.train_x) // 1000)
    fingerprint = hashlib.sha256(
        data.train_y.numpy().tobytes() + data.train_x[::step].numpy().tobytes()
    ).hexdigest()
    identity = {
        "task": "imputation",
        "dataset": data.name,
        "n_train": len(data.train_x),
        "fingerprint": fingerprint[:16],
        "image_shape": list(data.image_shape),
        "n_classes": n_classes,
        "epochs": epochs,
        **CLASSIFIER,
    }

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
        n_epochs = max(
            epochs,
            math.ceil(CLASSIFIER["min_steps"] / math.ceil(len(x) / CLASSIFIER["batch_size"])),
        )
        with torch.enable_grad():  # evaluate runs under no_grad
            _fit_classifier(net, x, y, n_epochs, optimizer, generator)

    if ctx.aux_model is None:  # outside the harness: train in place, uncached
        net = build().to(ctx.device)
        train(net)
        return net.eval()
    return ctx.aux_model(
        name="classifier", identity=identity, build=build, train=train, device=ctx.device
    )


def _fit_classifier(net, x, y, epochs, optimizer, generator) -> None:
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=generator).split(CLASSIFIER["batch_size"]):
            loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()


def classifier_scores(
    ctx: EvalContext,
    p: dict,
    imputations: torch.Tensor,
    baseline: torch.Tensor,
    labels: torch.Tensor,
    table: pd.DataFrame,
    prefix: str,
) -> list[dict]:
    """Accuracy and calibration of the classifier on the imputations (`[n, N, ...]`, probabilities averaged
    over the n) and on the `baseline` input (the `classifier/` rows), per-input predictions into `table`,
    and the reliability diagram. Metric names start with `prefix` (the protocol)."""
    net = classifier_for(ctx, p["classifier_epochs"])
    n = imputations.shape[0]
    probs = (
        _predict(net, imputations.flatten(0, 1), p["batch_size"], ctx.device)
        .view(n, len(labels), -1)
        .mean(0)
    )
    baseline_probs = _predict(net, baseline, p["batch_size"], ctx.device)
    rows = []
    for name, pr in ((prefix, probs), (prefix + "classifier/", baseline_probs)):
        rows.append({"metric": f"{name}accuracy", "value": metrics.accuracy(pr, labels)})
        rows += [
            {"metric": name + k, "value": v}
            for k, v in metrics.calibration_errors(pr, labels).items()
        ]
    table["pred"], table["confidence"] = probs.argmax(1).numpy(), probs.max(1).values.numpy()
    table["classifier_pred"] = baseline_probs.argmax(1).numpy()
    table["classifier_confidence"] = baseline_probs.max(1).values.numpy()
    _reliability(probs, baseline_probs, labels, ctx)
    return rows


def _predict(net: nn.Module, x: torch.Tensor, batch_size: int, device) -> torch.Tensor:
    return torch.cat([net(xb.to(device)).softmax(1).cpu() for xb in x.split(batch_size)])


def image_grid(images: torch.Tensor, columns: list[str], path, title: str) -> None:
    """images `[rows, cols, C, H, W]` as one tiled picture, a column label each."""
    from matplotlib.figure import Figure

    rows, cols, c, h, w = images.shape
    canvas = torch.ones(rows * (h + 1) + 1, cols * (w + 1) + 1, c)
    for r in range(rows):
        for k in range(cols):
            canvas[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + k * (w + 1) : 1 + k * (w + 1) + w] = (
                images[r, k].clamp(0, 1).permute(1, 2, 0)
            )
    fig = Figure(figsize=(1.0 + 0.9 * cols, 0.6 + 0.9 * rows), layout="constrained")
    ax = fig.subplots()
    ax.imshow(canvas.squeeze(-1).numpy() if c == 1 else canvas.numpy(), cmap="gray", vmin=0, vmax=1)
    ax.set_xticks([1 + k * (w + 1) + w / 2 for k in range(cols)], columns, rotation=30, fontsize=7)
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    fig.savefig(path, dpi=100)


def generation_grid(imputations: torch.Tensor, path, title: str) -> None:
    """The first `GRID_ROWS` inputs' imputations `[n, N, C, H, W]` from noise alone (`mask: full`), a column
    per sample."""
    n = imputations.shape[0]
    image_grid(
        imputations[:, :GRID_ROWS].transpose(0, 1),
        [f"sample {i + 1}" for i in range(n)],
        path,
        title,
    )


def imputation_grid(
    x_true: torch.Tensor,
    x_input: torch.Tensor,
    input_label: str,
    imputations: torch.Tensor,
    path,
    title: str,
) -> None:
    """The first `GRID_ROWS` inputs as rows: the true image, the network's input (`input_label`) and each
    of the imputations `[n, N, C, H, W]`."""
    shown = torch.cat(
        [
            x_true[:GRID_ROWS, None],
            x_input[:GRID_ROWS, None],
            imputations[:, :GRID_ROWS].transpose(0, 1),
        ],
        1,
    )
    n = imputations.shape[0]
    image_grid(
        shown, ["true", input_label] + [f"imputation {i + 1}" for i in range(n)], path, title
    )


def _reliability(
    probs: torch.Tensor, masked_probs: torch.Tensor, labels: torch.Tensor, ctx: EvalContext
) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.4))  # fixed margins: a constrained layout doubled the drawing time
    for ax, (name, pr) in zip(
        fig.subplots(
            1, 2, gridspec_kw=dict(left=0.08, right=0.98, bottom=0.14, top=0.85, wspace=0.25)
        ),
        ((f"{ctx.method_label} imputations", probs), ("classifier on masked input", masked_probs)),
    ):
        bins = metrics.calibration_bins(pr, labels)
        centers = (bins["edges"][:-1] + bins["edges"][1:]) / 2
        width = bins["edges"][1] - bins["edges"][0]
        full = bins["count"] > 0
        ax.bar(
            centers[full],
            bins["accuracy"][full],
            width=width,
            edgecolor="k",
            lw=0.5,
            label="accuracy",
        )
        ax.bar(
            centers[full],
            bins["confidence"][full] - bins["accuracy"][full],
            bottom=bins["accuracy"][full],
            width=width,
            color="tab:red",
            alpha=0.3,
            label="gap",
        )
        ax.plot([0, 1], [0, 1], color="grey", ls=":")
        errors = metrics.calibration_errors(pr, labels)
        ax.set(
            xlim=(0, 1),
            ylim=(0, 1),
            xlabel="confidence",
            ylabel="accuracy",
            title=f"{name}\nECE {errors['ece']:.3f}, MCE {errors['mce']:.3f}",
        )
        ax.title.set_fontsize(8)
        ax.legend(fontsize=7, loc="upper left")
    fig.savefig(ctx.artifact_dir / "reliability.png", dpi=100)
