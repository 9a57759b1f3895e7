"""One trial of a hyper-parameter search, run by Ray Tune in a worker: train the sampled configuration (its
dependencies first), report the validation loss every epoch, then the selection value, never touching the
test split.

The model is trained under its cache lock exactly as `harness.execution.trials.train_model` trains any model, so a
finished trial's model is the one every task later loads; a configuration already in the cache is not
retrained: its stored per-epoch history is reported instead. Reports are held back by one epoch so the last
one carries `finished` and `selection` (ASHA counts one report per epoch). A trial stopped by the scheduler
stores nothing. The selection value is the best validation loss (for a method that trains no epochs of its own,
an ensemble of cached members, the validation MSE of its sampled reconstructions), or a task metric on the
validation split of datasets whose test split is removed (`without_test`).
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import tempfile
from pathlib import Path

import torch

from harness.execution.context import RunContext
from harness.execution.trials.train import train_model
from harness.execution.trials.worker import dataset_for, setup_worker
from harness.grid.spaces import concrete
from harness.store.models import ModelCache
from methods import get as get_method
from methods.base import ModelSpec


class _HeldBackReporter:
    """Forwards each epoch's metrics to Tune one epoch late, so the final one can carry the selection."""

    def __init__(self, report, metric: str):
        self.report, self.metric, self.pending, self.best = report, metric, None, math.inf

    def __call__(self, metrics: dict) -> None:
        val = metrics.get("val_loss")
        if isinstance(val, (int, float)) and math.isfinite(val):
            self.best = min(self.best, val)
        if self.pending is not None:
            self.report(self.pending)
        self.pending = {
            **_scalars(metrics),
            "selection": self.best if self.metric == "val_loss" else math.nan,
            "finished": 0,
        }

    def finish(self, extra: dict) -> None:
        final = {**(self.pending or {}), **extra, "finished": 1}
        self.report(final)


def _scalars(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool))}


def without_test(data):
    """`data` with an empty test split: what a search may see."""
    return dataclasses.replace(data, test_x=data.test_x[:0], test_y=data.test_y[:0])


def search_trial(config: dict, static: dict) -> None:
    from ray import tune

    spec = concrete(ModelSpec(**static["base"]), config["sampled"])
    ctx = static["context"]
    device = setup_worker(ctx, static["cpus"])
    cache = ModelCache(ctx.models_dir, ctx.lock)
    _train_dependencies(spec, ctx, device, cache)
    reporter = _HeldBackReporter(tune.report, static["metric"])
    method = None  # loaded from the cache once, and only when something below needs it
    with cache.lock(spec):
        if cache.check(spec).ok:
            print(f"[search] {spec.key}: already trained; reporting its stored history", flush=True)
            method = cache.load(spec, device)
            for record in getattr(method, "history_", []):
                reporter(record)
        else:
            cache.discard(spec)
            train_model(spec, ctx, device, report=reporter)
    needs_val_mse, task_metric = not math.isfinite(reporter.best), static["metric"] != "val_loss"
    if (needs_val_mse or task_metric) and method is None:
        method = cache.load(spec, device)
    extra = {"model_key": spec.key}
    if needs_val_mse:  # no per-epoch validation loss (ensembles): one from Method.sample
        val_x = dataset_for(spec.data, ctx.data_root).val_x
        reporter({"epoch": 1, "val_loss": sampled_val_mse(method, val_x, spec.seed, device)})
    if task_metric:
        extra["selection"] = _validation_metric(method, spec, static, cache, device)
    reporter.finish(extra)


@torch.no_grad()
def sampled_val_mse(
    method, val_x: torch.Tensor, seed: int, device, n: int = 5, batch: int = 500
) -> float:
    """Mean squared error per pixel of `n` sampled reconstructions of the validation images: the validation loss
    of a method that trains no epochs of its own (an ensemble of cached members)."""
    total = 0.0
    for start in range(0, len(val_x), batch):
        x = val_x[start : start + batch].to(device)
        recon = method.sample(x, n, seed=seed).recon
        total += float(((recon - x.unsqueeze(0)) ** 2).mean(dim=(0, 2, 3, 4)).sum())
    return total / len(val_x)


def _train_dependencies(spec: ModelSpec, ctx: RunContext, device, cache: ModelCache) -> None:
    """Train what `spec` is built on (the AE under a post-hoc Laplace, ensemble members) if not cached yet."""
    for dep in get_method(spec.method).dependencies(spec).values():
        _train_dependencies(dep, ctx, device, cache)
        with cache.lock(dep):
            if not cache.check(dep).ok:
                cache.discard(dep)
                train_model(dep, ctx, device, report=lambda metrics: None)


def _validation_metric(method, spec: ModelSpec, static: dict, cache: ModelCache, device) -> float:
    """The experiment's task run with `split: validation` on test-less datasets; its metric `static["metric"]`."""
    from tasks import get as get_task
    from tasks.base import EvalContext

    name = static["metric"].split(":", 1)[1]
    task_cls = get_task(static["task"])
    task = task_cls(task_cls.validate_params({**static["task_params"], "split": "validation"}))
    data = {
        role: without_test(dataset_for(s, static["context"].data_root))
        for role, s in static["data"].items()
    }
    artifacts = Path(tempfile.mkdtemp(prefix="laebench-search-"))
    try:
        ctx = EvalContext(
            experiment="search",
            method_label=spec.method,
            method=method,
            data=data.get("train"),
            extra_data={r: d for r, d in data.items() if r != "train"},
            point={},
            seed=spec.seed,
            device=device,
            artifact_dir=artifacts,
            model_config=spec.model,
            train_config=spec.train,
            aux_model=cache.get_or_train,
        )
        rows = task.evaluate(ctx)
    finally:
        shutil.rmtree(artifacts, ignore_errors=True)
    values = {r["metric"]: r["value"] for r in rows if "metric" in r}
    if name not in values:
        raise ValueError(
            f"search metric '{name}' is not among task '{static['task']}' metrics: "
            f"{', '.join(sorted(values))}. Set search.metric to one of them."
        )
    return float(values[name])
