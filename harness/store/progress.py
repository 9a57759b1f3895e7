"""What a plan still needs from the store, asked once per run: `survey_plan(plan, cache, run_dir)`.

For each planned model, the state of its folder (ok, missing, failed, interrupted, bad with a reason), who is
training it now (its lock's holder) and, when it is not stored, a verified model of the same configuration
trained by other code (`ModelCache.stale`); for each evaluation, whether its record is current. The driver
(`harness.execution.run`) and `run --dry-run` read the answer instead of asking per model and per trial; nothing
here writes. A plan is read by its fields only (`train_layers`, `evals`: `harness.grid.plan`), so the store
needs no import of the grid.

A record is current (`record_is_current`) when it is ok, was made with the same settings (config hash) and, if it
evaluated a model, from the model now verified in the store (same sha256; a snapshot's evaluation: that snapshot's
bytes). Workers ask the same question under the record's lock before they evaluate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.store.files import DamagedFileError
from harness.store.layout import Entry
from harness.store.models import ModelCache
from harness.store.records import read_record, record_path
from harness.store.snapshots import snapshot_sha256
from harness.store.verify import lock_holder
from methods.base import ModelSpec


@dataclass
class ModelState:
    spec: ModelSpec
    found: Entry  # the folder's state (`ModelCache.check`)
    stored: bool  # verified: `found.status == "ok"`
    holder: str | None = None  # 'pid N on HOST' training it now, for a model not stored
    stale: Entry | None = None  # a stored model of the same configuration trained by other code


@dataclass
class Progress:
    """The answer, as plain fields (a caller reads them without calling back into the store)."""

    layers: list[list[ModelState]]  # as the plan's training layers
    evals_left: list  # the plan's evaluation jobs without a current record
    models: list[ModelState] = field(init=False)  # every layer's, in order
    to_train: list[list[ModelSpec]] = field(init=False)  # by training layer, the models not stored
    stale: dict[str, Entry] = field(
        init=False
    )  # model key -> a stored model of its configuration, other code

    def __post_init__(self):
        self.models = [m for layer in self.layers for m in layer]
        self.to_train = [[m.spec for m in layer if not m.stored] for layer in self.layers]
        self.stale = {m.spec.key: m.stale for m in self.models if m.stale is not None}


def survey_plan(plan, cache: ModelCache, run_dir: Path, evals: bool = True) -> Progress:
    """The store's answer for every model and (unless `evals` is False) every evaluation of `plan`."""
    layers = [survey_models(layer, cache) for layer in plan.train_layers]
    return Progress(layers, evals_left(run_dir, plan.evals, cache) if evals else [])


def survey_models(specs: list[ModelSpec], cache: ModelCache) -> list[ModelState]:
    """The state of each model's folder; for one not stored, who trains it now and a stale model of its
    configuration."""
    return [_model_state(spec, cache) for spec in specs]


def evals_left(run_dir: Path, jobs: list, cache: ModelCache) -> list:
    """The evaluation jobs (`harness.grid.plan.EvalJob`) without a current record."""
    return [job for job in jobs if not _job_current(run_dir, job, cache)]


def read_outcomes(run_dir: Path, trial_ids: list[str]) -> dict[str, object]:
    """trial id -> its record, None when it has none, or the DamagedFileError that reading it raised."""
    found = {}
    for trial_id in trial_ids:
        try:
            found[trial_id] = read_record(record_path(run_dir, trial_id))
        except FileNotFoundError:
            found[trial_id] = None
        except DamagedFileError as exc:
            found[trial_id] = exc
    return found


def _model_state(spec: ModelSpec, cache: ModelCache) -> ModelState:
    found = cache.check(spec)
    if found.status == "ok":
        return ModelState(spec, found, True)
    return ModelState(spec, found, False, lock_holder(cache.folder(spec)), cache.stale(spec))


def _job_current(run_dir: Path, job, cache: ModelCache) -> bool:
    return _current(run_dir, job.trial_id, job.config_hash, job.spec, job.point, cache)


def record_is_current(run_dir: Path, job: dict, cache: ModelCache) -> bool:
    """Whether the evaluation `job` (a trial's config: trial_id, config_hash, spec as a dict or None, point) has a
    current record."""
    spec = ModelSpec(**job["spec"]) if job.get("spec") is not None else None
    return _current(run_dir, job["trial_id"], job["config_hash"], spec, job.get("point"), cache)


def _current(run_dir, trial_id, config_hash, spec, point, cache: ModelCache) -> bool:
    try:
        record = read_record(record_path(run_dir, trial_id))
    except (DamagedFileError, FileNotFoundError):
        return False
    if record.status != "ok" or record.config_hash != config_hash:
        return False
    if spec is None:
        return True
    entry = cache.entry(spec)
    if entry is None:
        return False
    epoch = (point or {}).get("epoch")  # a snapshot's evaluation: that snapshot's bytes
    want = entry["sha256"] if epoch is None else snapshot_sha256(cache.folder(spec), epoch)
    return record.model_sha256 == want
