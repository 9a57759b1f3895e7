"""The training loop shared by methods: Adam, ReduceLROnPlateau, early stopping on validation loss.

`fit_loop` slices mini-batches from in-memory tensors, reports metrics every epoch (to Ray Tune inside a trial, as
a printed line outside), restores the best validation state, and stops with `NonFiniteLossError` on a NaN/inf
loss. Defaults follow appendix A. Resume checkpoints (`checkpoint_path`, the harness's `--resume`): the loop's
full state at the end of an epoch (with torch's global generators), written when `checkpoint_minutes` of
training have passed since the last write (default 5), when training ends, and when an interrupt (Ctrl-C, a
stopped trial: any exception but a non-finite loss) reaches the loop, which then writes the last finished
epoch's state before re-raising; a resumed run continues from that epoch exactly. Nothing that can be rebuilt is
written: the best epoch's weights only when they differ from the current ones. Snapshots (`snapshot_every: k`):
the method's state at every k-th epoch, handed to the `snapshot(epoch, state)` callback (the harness stores them
beside the model). `checkpoint_minutes` and `snapshot_every` (how training is saved, not what it trains) are not
in a model's key."""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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
    "checkpoint_minutes": 5.0,
    "snapshot_every": 0,
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


def _copy(obj):
    """A deep copy, tensors cloned to the CPU (a state later steps cannot change)."""
    if torch.is_tensor(obj):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _copy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_copy(v) for v in obj)
    return copy.deepcopy(obj)


@dataclass
class _Progress:
    """Where the loop stands: epochs done, the best validation loss and its weights, the history."""

    epoch: int = 0
    best_val: float = math.inf
    best_epoch: int = 0
    best_state: dict | None = None
    bad_epochs: int = 0
    history: list = field(default_factory=list)

    def to_file(self) -> dict:
        """As written: the best weights only when they are not the current ones (else rebuilt on resume)."""
        current = self.best_epoch == self.epoch
        return {
            "epoch": self.epoch,
            "best_val": self.best_val,
            "best_epoch": self.best_epoch,
            "best_state": None if current else self.best_state,
            "bad_epochs": self.bad_epochs,
            "history": self.history,
        }

    @classmethod
    def from_file(cls, saved: dict, current_state: dict) -> _Progress:
        best_epoch = saved.get("best_epoch", 0)
        best = saved.get("best_state")
        if best is None and best_epoch == saved["epoch"] and saved["epoch"] > 0:
            best = copy.deepcopy(current_state)
        return cls(
            saved["epoch"],
            saved["best_val"],
            best_epoch,
            best,
            saved["bad_epochs"],
            saved["history"],
        )


class _Checkpointer:
    """Writes the loop's state to `path` by time, at the end and on an interrupt (the last finished epoch)."""

    def __init__(self, path, minutes: float):
        self.path = Path(path) if path else None
        self.every_s = float(minutes) * 60.0
        self.last = time.monotonic()
        self.pending: dict | None = None  # the last finished epoch's state, not yet written

    def epoch_done(self, state: Callable[[], dict]) -> None:
        if self.path is None:
            return
        if time.monotonic() - self.last >= self.every_s:
            self.write(state())
        else:
            self.pending = _copy(state())

    def flush(self) -> None:
        if self.path is not None and self.pending is not None:
            self.write(self.pending)

    def write(self, state: dict) -> None:
        tmp = Path(str(self.path) + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.path)
        self.last, self.pending = time.monotonic(), None


@dataclass
class _Loop:
    """The optimiser, its schedule, the batch order's generator and the progress: what a resume restores."""

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau
    generator: torch.Generator
    progress: _Progress

    def state(self, get_state: Callable[[], dict]) -> dict:
        return {
            "model": get_state(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "generator": self.generator.get_state(),
            "rng": _global_rng(),
            "loop": self.progress.to_file(),
        }


def _global_rng() -> dict:
    """torch's global generators (weight samples, dropout draw from them): a resume continues their streams."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else []
    return {"cpu": torch.random.get_rng_state(), "cuda": cuda}


def _set_global_rng(saved: dict | None) -> None:
    if not saved:  # a checkpoint written before the generators were kept
        return
    torch.random.set_rng_state(saved["cpu"].cpu())
    if saved.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in saved["cuda"]])


def _start(params, s: dict, seed: int, checkpoint_path, set_state, get_state, device, label):
    optimizer = torch.optim.Adam(params, lr=s["lr"], weight_decay=s["weight_decay"])
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=s["plateau"]["factor"], patience=s["plateau"]["patience"]
    )
    loop = _Loop(optimizer, scheduler, torch.Generator().manual_seed(seed), _Progress())
    if checkpoint_path and Path(checkpoint_path).exists():
        saved = load_checkpoint(checkpoint_path, map_location=device)
        set_state(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        loop.generator.set_state(saved["generator"])
        _set_global_rng(saved.get("rng"))
        loop.progress = _Progress.from_file(saved["loop"], get_state())
        print(f"[{label}] resuming from epoch {loop.progress.epoch}", flush=True)
    return loop


def _train_epoch(loop: _Loop, train_step_loss, train_x, batch_size: int, after_step) -> float:
    total = torch.zeros((), device=train_x.device)
    n_batches = 0
    for xb in batches(train_x, batch_size, shuffle=True, generator=loop.generator):
        loss = train_step_loss(xb)
        loop.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        loop.optimizer.step()
        if after_step is not None:
            after_step(xb)
        total += loss.detach()
        n_batches += 1
    return float(total) / max(n_batches, 1)


@torch.no_grad()
def _validate(val_loss, val_x) -> float:
    total = sum(float(val_loss(xb)) * len(xb) for xb in batches(val_x, 1024, shuffle=False))
    return total / len(val_x)


def _check_finite(train_loss: float, val: float, epoch: int, lr: float, label: str) -> None:
    if math.isfinite(train_loss) and math.isfinite(val):
        return
    kind = "NaN" if math.isnan(train_loss) or math.isnan(val) else "inf"
    raise NonFiniteLossError(
        f"{label or 'training'}: loss became {kind} at epoch {epoch} (train {train_loss:.4g}, "
        f"val {val:.4g}). Lower train.lr (now {lr}) or check the method's parameters."
    )


def _end_epoch(loop: _Loop, val: float, get_state) -> None:
    """Step the schedule and keep the best validation state."""
    p = loop.progress
    loop.scheduler.step(val)
    if val < p.best_val:
        p.best_val, p.best_epoch, p.best_state, p.bad_epochs = (
            val,
            p.epoch,
            copy.deepcopy(get_state()),
            0,
        )
    else:
        p.bad_epochs += 1


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
    snapshot: Callable[[int, dict], None] | None = None,
    seed: int = 0,
    label: str = "",
) -> list[dict]:
    """Train until early stopping or `max_epochs`; returns the per-epoch history."""
    s = train_settings(settings)
    loop = _start(
        list(params), s, seed, checkpoint_path, set_state, get_state, train_x.device, label
    )
    saver, p = _Checkpointer(checkpoint_path, s["checkpoint_minutes"]), loop.progress
    try:
        while p.epoch < s["max_epochs"] and p.bad_epochs < s["early_stopping"]:
            started = time.perf_counter()
            set_mode(True)
            train_loss = _train_epoch(loop, train_step_loss, train_x, s["batch_size"], after_step)
            set_mode(False)
            val = _validate(val_loss, val_x)
            p.epoch += 1
            _check_finite(train_loss, val, p.epoch, s["lr"], label)
            _end_epoch(loop, val, get_state)
            record = {
                "epoch": p.epoch,
                "train_loss": train_loss,
                "val_loss": val,
                "lr": loop.optimizer.param_groups[0]["lr"],
                "epoch_time_s": time.perf_counter() - started,
                **(epoch_metrics() if epoch_metrics else {}),
            }
            p.history.append(record)
            saver.epoch_done(
                lambda: loop.state(get_state)
            )  # before reporting: a stop there loses nothing
            if snapshot is not None and s["snapshot_every"] and p.epoch % s["snapshot_every"] == 0:
                snapshot(p.epoch, get_state())
            reporter(record)
        if saver.path is not None:
            saver.write(loop.state(get_state))
    except NonFiniteLossError:
        raise
    except BaseException:  # an interrupt or a stopped trial: keep the last finished epoch
        saver.flush()
        raise
    if p.best_state is not None:
        set_state(p.best_state)
    set_mode(False)
    return p.history
