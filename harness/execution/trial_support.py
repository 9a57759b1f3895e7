"""What both kinds of trial share: plugins imported and the device taken in a worker, the dataset of a spec, per-
epoch reports to Tune, the trial's log, one-line errors."""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from harness.datasets import load_dataset
from harness.execution.console import log_path, trial_log
from harness.execution.context import RunContext
from harness.grid.plugins import import_plugins
from harness.store.models import ModelCache


def trial_device() -> torch.device:
    try:
        import ray

        gpus = ray.get_gpu_ids() if ray.is_initialized() else []
    except Exception:
        gpus = []
    return torch.device("cuda") if gpus and torch.cuda.is_available() else torch.device("cpu")


def setup_worker(ctx: RunContext, cpus: float | None = None) -> torch.device:
    import_plugins(ctx.plugins, ctx.plugin_paths)
    if cpus:
        torch.set_num_threads(max(1, int(cpus)))
    return trial_device()


def dataset_for(spec_data: dict, data_root):
    return load_dataset(
        spec_data["name"],
        data_root,
        classes=spec_data.get("classes"),
        train_limit=spec_data.get("limit"),
    )


def in_tune_session() -> bool:
    try:
        import warnings

        from ray import tune

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # outside a session Ray warns and returns None
            return tune.get_context().get_trial_id() is not None
    except Exception:
        return False


def print_epoch(metrics: dict) -> None:
    print(
        " ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()
        ),
        flush=True,
    )


def epoch_reporter():
    """Per-epoch metrics to Ray Tune inside a trial, as a printed line outside."""
    if in_tune_session():
        from ray import tune

        # scalars only: Tune's loggers cannot write a list (e.g. lae_posthoc's prior search trail), which
        # stays in the model's history
        return lambda metrics: tune.report(
            {
                k: v
                for k, v in metrics.items()
                if isinstance(v, (int, float, str, bool)) or v is None
            }
        )
    return print_epoch


def model_cache(ctx: RunContext) -> ModelCache:
    return ModelCache(ctx.models_dir, ctx.lock)


def trial_logged(ctx: RunContext, name: str):
    if not ctx.run_dir:
        return contextlib.nullcontext()
    return trial_log(log_path(Path(ctx.run_dir), name), ctx.verbose)


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def tune_report(metrics: dict) -> None:
    if in_tune_session():
        from ray import tune

        tune.report(metrics)
