"""What every kind of trial shares in its worker: plugins imported and the device taken, the dataset of a spec,
per-epoch reports (to Tune inside a Tune trial), the trial's log, one-line errors, and Tune-style retries.

Retries: with the grid's `max_failures: N`, a trial that raised is handed back to its backend (`RetryTrial`; Ray
Tune's `FailureConfig(max_failures=N)` restarts it, on another node if its node died; the local backend runs it
again) up to N times before its failure is recorded. Attempts are counted per run in `<run_dir>/.retries/`,
because a restarted trial is a new process."""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from harness.datasets import load_dataset
from harness.execution.context import RunContext
from harness.execution.terminal import log_path, trial_log
from harness.grid.plugins import import_plugins
from harness.store.files import write_atomic
from harness.store.models import ModelCache

LOCAL = False  # trials run in the driver's process (`harness.execution.backends.local`), not under Ray Tune
LAST_REPORT: dict = {}  # outside Tune: what the running trial reported last (the local backend reads it)
FAILED: list[
    int
] = []  # the running trial's trainings or evaluations that failed (1) or not (0), so far


def trial_device(gpus: float | None = None) -> torch.device:
    """CUDA when the trial was given a GPU (by Ray, or asked for one in the grid under the local backend)."""
    if LOCAL:
        wanted = bool(gpus)
    else:
        try:
            import ray

            wanted = bool(ray.get_gpu_ids()) if ray.is_initialized() else False
        except Exception:
            wanted = False
    return torch.device("cuda") if wanted and torch.cuda.is_available() else torch.device("cpu")


def setup_worker(
    ctx: RunContext, cpus: float | None = None, gpus: float | None = None
) -> torch.device:
    import_plugins(ctx.plugins, ctx.plugin_paths)
    if cpus:
        torch.set_num_threads(max(1, int(cpus)))
    return trial_device(gpus)


def dataset_for(spec_data: dict, data_root):
    return load_dataset(
        spec_data["name"],
        data_root,
        classes=spec_data.get("classes"),
        train_limit=spec_data.get("limit"),
    )


def in_tune_session() -> bool:
    if LOCAL:
        return False
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


def note_failed(failed: int) -> None:
    """A training or evaluation of the running trial ended, failed (1) or not (0)."""
    FAILED.append(int(failed))


def report_trial() -> None:
    """The running trial's result, once, after all its trainings or evaluations: how many failed (to Ray Tune
    inside a Tune trial, else kept for the local backend in `LAST_REPORT`)."""
    total = sum(FAILED)
    FAILED.clear()
    if in_tune_session():
        from ray import tune

        tune.report({"failed": total})
    else:
        LAST_REPORT["failed"] = total


class RetryTrial(RuntimeError):
    """Raised to Tune so that it restarts the trial."""


def retry_left(ctx: RunContext, tag: str) -> bool:
    """Count one failed attempt of `tag` (a model key or trial id) in this run; True while retries remain."""
    allowed = int(ctx.max_failures or 0)
    if allowed <= 0:
        return False
    run = "".join(c if c.isalnum() else "_" for c in ctx.run_id)
    path = Path(ctx.run_dir) / ".retries" / run / tag.replace("/", "__")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        failures = int(path.read_text())
    except (OSError, ValueError):
        failures = 0
    write_atomic(path, str(failures + 1).encode())
    return failures < allowed
