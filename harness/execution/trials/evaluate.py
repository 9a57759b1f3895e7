"""The two kinds of Ray Tune trial: train one model, or evaluate one task job.

Both run in Ray worker processes: they import the grid's plugins, take the GPU Ray assigned (if any),
and write their outcome to the results directory (model cache or `trials/<id>.json`), so a crash of
one trial never loses another's result. Exceptions are caught, recorded with their message, and
reported to Tune as `failed=1`. Each trial holds a lock on its model or record (`harness.store.locks`) and
re-checks under it, so a second run of the same grid, or another node, waits and then uses the result
instead of training or evaluating again. A record stores the sha256 of the model it evaluated; it
counts as done only while that model is still the verified one in the cache
(`harness.store.progress.record_is_current`).
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path

import torch

from harness.execution.trials.worker import (
    dataset_for,
    model_cache,
    note_failed,
    one_line,
    retry_left,
    setup_worker,
    trial_logged,
)
from harness.store.files import DamagedFileError
from harness.store.layout import CacheError
from harness.store.locks import exclusive
from harness.store.models import ModelCache
from harness.store.progress import record_is_current
from harness.store.provenance import provenance
from harness.store.records import (
    TrialRecord,
    artifacts_dir,
    read_record,
    record_path,
    write_record,
)
from harness.store.snapshots import load_snapshot, snapshot_sha256
from laebench.fingerprint import fingerprint
from methods.base import ModelSpec, current_code


def eval_trial(config: dict) -> bool:
    """Evaluate one job and write its record; returns whether Tune should retry it (grid `max_failures`). Its
    output goes to `<run_dir>/logs/<trial id, '/' as '__'>.log`."""
    with trial_logged(config["context"], config["job"]["trial_id"]):
        return _eval_trial(config)


def _eval_trial(config: dict) -> bool:
    job, run = config["job"], config["context"]
    run_dir = Path(run.run_dir)
    cache = model_cache(run)
    try:
        with exclusive(
            record_path(run_dir, job["trial_id"]).with_suffix(".lock"),
            f"trial {job['trial_id']}",
            run.lock,
        ):
            if record_is_current(run_dir, job, cache):
                print(
                    f"[eval] {job['trial_id']}: already evaluated (by another run meanwhile)",
                    flush=True,
                )
                note_failed(0)
                return False
            record = _evaluate(config, cache)
            if record["status"] != "ok" and retry_left(run, job["trial_id"]):
                return True
            record["attempt"] = _previous_attempt(run_dir, job["trial_id"]) + 1
            write_record(run_dir, TrialRecord.from_dict(record))
    except Exception as exc:  # the lock itself failed (storage gone): report, never raise
        traceback.print_exc()
        record = {"status": "failed", "error": one_line(exc)}
    note_failed(record["status"] != "ok")
    return False


def _evaluate(config: dict, cache: ModelCache) -> dict:
    """Run the task on the job's model (or snapshot) and data; the record, failed with its error on any raise."""
    from tasks import get as get_task

    job, run = config["job"], config["context"]
    record = _new_record(job, config["experiment"], run.run_id)
    started = time.perf_counter()
    device = torch.device("cpu")
    try:
        device = setup_worker(run, config.get("cpus"), config.get("gpus"))
        exp = config["experiment"]
        task = get_task(job["task"])(exp["task_params"])
        record["code"]["task"] = fingerprint(type(task))  # the code behind the numbers
        method, memo = (
            (None, None) if job["spec"] is None else _load_model(job, cache, device, record)
        )
        ctx = _context(job, exp, run, cache, method, memo, device)
        record["metrics"] = task.evaluate(ctx) + model_diagnostics(method)
    except Exception as exc:
        record.update(status="failed", error=one_line(exc))
        traceback.print_exc()
    record.update(
        wall_time_s=time.perf_counter() - started, finished=time.time(), **provenance(device)
    )
    return record


def _new_record(job: dict, experiment: dict, run_id: str) -> dict:
    keys = ("trial_id", "experiment", "task", "label", "seed", "point", "config_hash")
    return {
        **{k: job[k] for k in keys},
        **describe(experiment, job["label"], job.get("chosen")),
        "model_key": None,
        "model_sha256": None,
        "status": "ok",
        "error": "",
        "metrics": [],
        "run_id": run_id,
        "code": {"task": "", "method": "", "model": ""},
        "stale": False,
    }


def _load_model(job: dict, cache: ModelCache, device, record: dict):
    """The verified model of the job (its snapshot at `point.epoch` when the experiment has `snapshots:`), noted in
    `record`, and the memo that keeps its derived results beside it (`ModelCache.derived`)."""
    spec = ModelSpec(**job["spec"])
    record["model_key"] = spec.key
    found = cache.check(spec)
    if found.status == "failed":
        raise RuntimeError(f"model {spec.key} failed to train: {cache.failure(spec)}")
    if not found.ok:
        raise CacheError(
            f"model {spec.key} is not usable ({found.status}{': ' if found.reason else ''}"
            f"{found.reason}); rerun the grid to retrain it"
        )
    epoch = job["point"].get("epoch")
    if epoch is None:
        method, record["model_sha256"] = cache.load(spec, device), found.manifest["sha256"]
    else:
        method = load_snapshot(cache.folder(spec), spec, epoch, device)
        record["model_sha256"] = snapshot_sha256(cache.folder(spec), epoch)
    record["code"].update(
        model=found.manifest.get("code", ""), method=found.manifest.get("method_code", "")
    )
    record["stale"] = bool(spec.code) and spec.code != current_code(spec)
    at = {} if epoch is None else {"snapshot_epoch": epoch}
    return method, lambda name, identity, compute: cache.derived(
        spec, name, {**identity, **at}, compute
    )


def _context(job: dict, exp: dict, run, cache: ModelCache, method, memo, device):
    from tasks.base import EvalContext

    data_specs = exp["data"]
    data = dataset_for(data_specs["train"], run.data_root) if "train" in data_specs else None
    extra = {r: dataset_for(s, run.data_root) for r, s in data_specs.items() if r != "train"}
    artifact_dir = artifacts_dir(Path(run.run_dir), job["trial_id"])
    artifact_dir.mkdir(parents=True, exist_ok=True)
    return EvalContext(
        experiment=job["experiment"],
        method_label=job["label"],
        method=method,
        data=data,
        extra_data=extra,
        point=job["point"],
        seed=job["seed"],
        device=device,
        artifact_dir=artifact_dir,
        model_config=exp["model"],
        train_config=exp["train"],
        aux_model=cache.get_or_train,
        memo=memo,
    )


def describe(experiment: dict, label: str, chosen: dict | None = None) -> dict:
    """What the leaderboard shows about a trial besides its numbers, from its experiment as validated: the
    training dataset, architecture, method key and parameters of `label` (for a search, the `chosen`
    configuration and the search's summary), and the task's parameters."""
    train = (experiment.get("data") or {}).get("train") or {}
    method = next((m for m in experiment.get("methods") or [] if m.get("label") == label), {})
    out = {
        "dataset": train.get("name", "") if isinstance(train, dict) else str(train),
        "arch": (experiment.get("model") or {}).get("arch", ""),
        "method_key": method.get("key", ""),
        "method_params": chosen["params"] if chosen else method.get("params", {}),
        "task_params": experiment.get("task_params") or {},
    }
    if chosen:
        out["search"] = {**chosen["search"], "train": chosen["train"]}
    return out


def _previous_attempt(run_dir: Path, trial_id: str) -> int:
    try:
        return read_record(record_path(run_dir, trial_id)).attempt
    except (DamagedFileError, FileNotFoundError):
        return 0


def model_diagnostics(method) -> list[dict]:
    """A method's own health figures (e.g. `posterior/*` of the Laplace methods) as metric rows."""
    diagnostics = getattr(method, "diagnostics", None)
    return (
        [{"metric": k, "value": float(v)} for k, v in diagnostics().items()]
        if callable(diagnostics)
        else []
    )
