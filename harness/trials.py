"""The two kinds of Ray Tune trial: train one model, or evaluate one task job.

Both run in Ray worker processes: they import the grid's plugins, take the GPU Ray assigned (if any),
and write their outcome to the results directory (model cache or `trials/<id>.json`), so a crash of
one trial never loses another's result. Exceptions are caught, recorded with their message, and
reported to Tune as `failed=1`.
"""
from __future__ import annotations

import json
import os
import time
import traceback
from pathlib import Path

import torch

from methods import get as get_method
from methods.base import ModelSpec

from .cache import ModelCache
from .data import load_dataset
from .provenance import provenance
from .registry import import_plugins


def trial_device() -> torch.device:
    try:
        import ray

        gpus = ray.get_gpu_ids() if ray.is_initialized() else []
    except Exception:
        gpus = []
    return torch.device("cuda") if gpus and torch.cuda.is_available() else torch.device("cpu")


def _setup(common: dict, cpus: float | None = None) -> torch.device:
    import_plugins(common.get("plugins", []))
    if cpus:
        torch.set_num_threads(max(1, int(cpus)))
    return trial_device()


def dataset_for(spec_data: dict, data_root):
    return load_dataset(spec_data["name"], data_root, classes=spec_data.get("classes"),
                        train_limit=spec_data.get("limit"))


def _in_tune_session() -> bool:
    try:
        import warnings

        from ray import tune

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # outside a session Ray warns and returns None
            return tune.get_context().get_trial_id() is not None
    except Exception:
        return False


def _print_epoch(metrics: dict) -> None:
    print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()), flush=True)


def _reporter():
    """Per-epoch metrics to Ray Tune inside a trial, as a printed line outside."""
    if _in_tune_session():
        from ray import tune

        return tune.report
    return _print_epoch


def train_model(spec: ModelSpec, common: dict, device: torch.device | None = None, report=None) -> None:
    """Train `spec` (its dependencies must be cached) and store it. Raises on failure."""
    device = device or trial_device()
    cache = ModelCache(common["models_dir"])
    data = dataset_for(spec.data, common.get("data_root"))
    cls = get_method(spec.method)
    deps = {name: cache.load(dep, device) for name, dep in cls.dependencies(spec).items()}
    partial = cache.partial_path(spec)
    if not common.get("resume"):
        partial.unlink(missing_ok=True)
    started = time.perf_counter()
    method = cls(spec, data.image_shape).fit(data, dependencies=deps, device=device,
                                             reporter=report or _reporter(), checkpoint_path=partial)
    history = getattr(method, "history_", [])
    elapsed = time.perf_counter() - started
    cache.save(method, history=history, extra={"train_time_s": elapsed, "provenance": provenance(device)})
    best = min((h["val_loss"] for h in history if "val_loss" in h), default=float("nan"))
    print(f"[train] {spec.key}: {len(history)} epoch(s), best val loss {best:.5g}, {elapsed:.1f}s on {device}",
          flush=True)


def train_trial(config: dict) -> None:
    spec = ModelSpec(**config["spec"])
    common = config["common"]
    cache = ModelCache(common["models_dir"])
    try:
        device = _setup(common, config.get("cpus"))
        print(f"[train] {spec.key} on {device}", flush=True)
        train_model(spec, common, device)
        _tune_report({"failed": 0})
    except Exception as exc:  # recorded, never raised: the other trials go on
        cache.record_failure(spec, _one_line(exc))
        traceback.print_exc()
        _tune_report({"failed": 1})


def eval_trial(config: dict) -> None:
    from tasks import get as get_task
    from tasks.base import EvalContext

    job, common = config["job"], config["common"]
    record = {**{k: job[k] for k in ("trial_id", "experiment", "task", "label", "seed", "point", "config_hash")},
              "model_key": None, "status": "ok", "error": "", "metrics": []}
    started = time.perf_counter()
    device = torch.device("cpu")
    try:
        device = _setup(common, config.get("cpus"))
        exp = config["experiment"]
        task = get_task(job["task"])(exp["task_params"])
        cache = ModelCache(common["models_dir"])
        method = None
        if job["spec"] is not None:
            spec = ModelSpec(**job["spec"])
            record["model_key"] = spec.key
            failure = cache.failure(spec) if not cache.has(spec) else None
            if failure is not None:
                raise RuntimeError(f"model {spec.key} failed to train: {failure}")
            method = cache.load(spec, device)
        data_specs = exp["data"]
        data = dataset_for(data_specs["train"], common.get("data_root")) if "train" in data_specs else None
        extra = {role: dataset_for(s, common.get("data_root")) for role, s in data_specs.items() if role != "train"}
        artifact_dir = Path(common["run_dir"]) / "artifacts" / job["trial_id"]
        artifact_dir.mkdir(parents=True, exist_ok=True)
        ctx = EvalContext(experiment=job["experiment"], method_label=job["label"], method=method, data=data,
                          extra_data=extra, point=job["point"], seed=job["seed"], device=device,
                          artifact_dir=artifact_dir, model_config=exp["model"], train_config=exp["train"],
                          aux_model=ModelCache(common["models_dir"]).get_or_train)
        record["metrics"] = task.evaluate(ctx)
    except Exception as exc:
        record.update(status="failed", error=_one_line(exc))
        traceback.print_exc()
    record.update(wall_time_s=time.perf_counter() - started, finished=time.time(), **provenance(device))
    write_record(Path(common["run_dir"]), record)
    _tune_report({"failed": int(record["status"] != "ok")})


def record_path(run_dir: Path, trial_id: str) -> Path:
    return run_dir / "trials" / (trial_id.replace("/", "__") + ".json")


def write_record(run_dir: Path, record: dict) -> None:
    path = record_path(run_dir, record["trial_id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1, default=float))
    os.replace(tmp, path)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def _tune_report(metrics: dict) -> None:
    if _in_tune_session():
        from ray import tune

        tune.report(metrics)
