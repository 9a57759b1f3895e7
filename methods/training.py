"""The training loop shared by methods: Adam, ReduceLROnPlateau, early stopping on validation loss.

`fit_loop` slices mini-batches from in-memory tensors, reports metrics every epoch (to Ray Tune inside
a trial, as a printed line outside), restores the best validation state, and stops with
`NonFiniteLossError` on a NaN/inf loss. With `checkpoint_path` it saves its full state every epoch and
continues from that file if it exists (the harness's `--resume`). Defaults follow appendix A.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import torch

from laebench.checkpoints import load_checkpoint

DEFAULT_TRAIN = {
    "lr": 1.0e-3,
    "batch_size": 64,
    "max_epochs": 200,
    "early_stopping": 8,
    "plateau": {"factor": 0.5, "patience": 5},
    "weight_decay": 0.0,
}


class NonFiniteLossError(FloatingPointError):
    """A training or validation loss became NaN or infinite."""


def train_settings(train: dict) -> dict:
    merged = copy.deepcopy(DEFAULT_TRAIN)
    for key, value in (train or {}).items():
        if key == "plateau":
            merged["plateau"].update(value)
        else:
            merged[key] = value
    return merged


def batches(
    x: torch.Tensor, batch_size: int, *, shuffle: bool, generator: torch.Generator | None = None
):
    n = len(x)
    order = torch.randperm(n, generator=generator, device="cpu").to(x.device) if shuffle else None
    for start in range(0, n, batch_size):
        yield x[order[start : start + batch_size]] if shuffle else x[start : start + batch_size]


def fit_loop(
    *,
    params: Iterable[torch.nn.Parameter],
    train_step_loss: Callable[[torch.Tensor], torch.Tensor],
    val_loss: Callable[[torch.Tensor], torch.Tensor],
    train_x: torch.Tensor,
    val_x: torch.Tensor,
    settings: dict,
    get_state: Callable[[], dict],
    set_state: Callable[[dict], None],
    set_mode: Callable[[bool], None],
    reporter: Callable[[dict], None],
    after_step: Callable[[torch.Tensor], None] | None = None,
    epoch_metrics: Callable[[], dict] | None = None,
    checkpoint_path: str | os.PathLike | None = None,
    seed: int = 0,
    label: str = "",
) -> list[dict]:
    """Train until early stopping or `max_epochs`; returns the per-epoch history."""
    params = list(params)
    s = train_settings(settings)
    optimizer = torch.optim.Adam(params, lr=s["lr"], weight_decay=s["weight_decay"])
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=s["plateau"]["factor"], patience=s["plateau"]["patience"]
    )
    generator = torch.Generator().manual_seed(seed)
    state = {"epoch": 0, "best_val": math.inf, "best_state": None, "bad_epochs": 0, "history": []}
    if checkpoint_path and Path(checkpoint_path).exists():
        saved = load_checkpoint(checkpoint_path, map_location=train_x.device)
        set_state(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        generator.set_state(saved["generator"])
        state = saved["loop"]
        print(f"[{label}] resuming from epoch {state['epoch']}", flush=True)

    while state["epoch"] < s["max_epochs"] and state["bad_epochs"] < s["early_stopping"]:
        started = time.perf_counter()
        set_mode(True)
        total = torch.zeros((), device=train_x.device)
        n_batches = 0
        for xb in batches(train_x, s["batch_size"], shuffle=True, generator=generator):
            loss = train_step_loss(xb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if after_step is not None:
                after_step(xb)
            total += loss.detach()
            n_batches += 1
        train_loss = float(total) / max(n_batches, 1)
        set_mode(False)
        with torch.no_grad():
            val_total = sum(
                float(val_loss(xb)) * len(xb) for xb in batches(val_x, 1024, shuffle=False)
            )
        val = val_total / len(val_x)
        state["epoch"] += 1
        if not (math.isfinite(train_loss) and math.isfinite(val)):
            raise NonFiniteLossError(
                f"{label or 'training'}: loss became {'NaN' if math.isnan(train_loss) or math.isnan(val) else 'inf'} "
                f"at epoch {state['epoch']} (train {train_loss:.4g}, val {val:.4g}). "
                f"Lower train.lr (now {s['lr']}) or check the method's parameters."
            )
        scheduler.step(val)
        if val < state["best_val"]:
            state.update(best_val=val, best_state=copy.deepcopy(get_state()), bad_epochs=0)
        else:
            state["bad_epochs"] += 1
        record = {
            "epoch": state["epoch"],
            "train_loss": train_loss,
            "val_loss": val,
            "lr": optimizer.param_groups[0]["lr"],
            "epoch_time_s": time.perf_counter() - started,
            **(epoch_metrics() if epoch_metrics else {}),
        }
        state["history"].append(record)
        if (
            checkpoint_path
        ):  # saved before reporting, so an interrupt during the report loses nothing
            tmp = Path(str(checkpoint_path) + ".tmp")
            torch.save(
                {
                    "model": get_state(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "generator": generator.get_state(),
                    "loop": state,
                },
                tmp,
            )
            os.replace(tmp, checkpoint_path)
        reporter(record)

    if state["best_state"] is not None:
        set_state(state["best_state"])
    set_mode(False)
    return state["history"]
