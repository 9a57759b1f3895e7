"""The training trial: train one model under its lock unless another run did (or failed to) meanwhile, store it
verified, its output in its own log."""

from __future__ import annotations

import time
import traceback

import torch

from harness.execution.context import RunContext
from harness.execution.trials.worker import (
    RetryTrial,
    dataset_for,
    epoch_reporter,
    model_cache,
    note_failed,
    one_line,
    retry_left,
    setup_worker,
    trial_device,
    trial_logged,
)
from harness.grid.plugins import import_plugins
from harness.store.provenance import provenance
from harness.store.snapshots import clear_snapshots, snapshot_writer
from laebench.checkpoints import CheckpointError, load_checkpoint
from methods import get as get_method
from methods.base import ModelSpec


def train_model(
    spec: ModelSpec, ctx: RunContext, device: torch.device | None = None, report=None
) -> None:
    """Train `spec` (its dependencies must be cached) and store it. Raises on failure. Call under the lock."""
    device = device or trial_device()
    cache = model_cache(ctx)
    data = dataset_for(spec.data, ctx.data_root)
    cls = get_method(spec.method)
    deps = {name: cache.load(dep, device) for name, dep in cls.dependencies(spec).items()}
    partial = cache.partial_path(spec)
    if not ctx.resume:
        partial.unlink(missing_ok=True)
        clear_snapshots(cache.folder(spec))
    elif partial.exists():
        try:
            load_checkpoint(partial, map_location="cpu")
        except CheckpointError as exc:  # torn, truncated or holding code: start this model afresh
            print(f"[train] {spec.key}: discarding {exc}; training from epoch 0", flush=True)
            partial.unlink(missing_ok=True)
    started = time.perf_counter()
    method = cls(spec, data.image_shape).fit(
        data,
        dependencies=deps,
        device=device,
        reporter=report or epoch_reporter(),
        checkpoint_path=partial,
        snapshot=snapshot_writer(cache.folder(spec), spec, data.image_shape),
    )
    history = getattr(method, "history_", [])
    elapsed = time.perf_counter() - started
    cache.save(
        method,
        history=history,
        extra={"train_time_s": elapsed, "provenance": provenance(device)},
        run_id=ctx.run_id,
    )
    best = min((h["val_loss"] for h in history if "val_loss" in h), default=float("nan"))
    print(
        f"[train] {spec.key}: {len(history)} epoch(s), best val loss {best:.5g}, {elapsed:.1f}s on {device}",
        flush=True,
    )


def train_trial(config: dict) -> None:
    """Train one model unless another run did (or failed to) while this trial waited for its lock; its output
    goes to `<run_dir>/logs/train__<model key>.log`."""
    ctx = config["context"]
    try:  # the key needs the method's class, which may come from a plugin
        import_plugins(ctx.plugins, ctx.plugin_paths)
        name = "train/" + ModelSpec(**config["spec"]).key
    except Exception:  # recorded by the trial itself, which imports them again
        name = f"train/{config['spec']['method']}-seed{config['spec']['seed']}"
    with trial_logged(ctx, name):
        _train_trial(config)


def _train_trial(config: dict) -> None:
    spec = ModelSpec(**config["spec"])
    ctx = config["context"]
    cache = model_cache(ctx)
    failed = 0
    try:
        device = setup_worker(ctx, config.get("cpus"), config.get("gpus"))
        failure_before = cache.failure_stamp(spec)
        with cache.lock(spec):
            try:
                found = cache.check(spec)
                stamp = cache.failure_stamp(spec)
                if found.ok:
                    print(
                        f"[train] {spec.key}: already trained (by another run meanwhile); using it",
                        flush=True,
                    )
                elif stamp is not None and stamp != failure_before:
                    print(
                        f"[train] {spec.key}: another run failed to train it just now: {cache.failure(spec)}",
                        flush=True,
                    )
                    failed = 1
                else:
                    if found.status == "bad":
                        print(f"[train] {spec.key}: retraining: {found.reason}", flush=True)
                    cache.discard(spec)
                    print(f"[train] {spec.key} on {device}", flush=True)
                    train_model(spec, ctx, device)
            except (
                Exception
            ) as exc:  # recorded under the lock, so a waiting run sees it and does not retry
                if retry_left(ctx, spec.key):
                    traceback.print_exc()
                    raise RetryTrial(
                        f"training {spec.key} failed ({one_line(exc)}); Tune retries it"
                    ) from exc
                cache.record_failure(spec, one_line(exc))
                traceback.print_exc()
                failed = 1
    except RetryTrial:
        raise
    except (
        Exception
    ) as exc:  # plugins, device or lock: recorded, never raised, the other trials go on
        cache.record_failure(spec, one_line(exc))
        traceback.print_exc()
        failed = 1
    note_failed(failed)
