"""The files of a grid's results folder, each with one writer and one reader: trial records and the plan.

- `<run_dir>/trials/<trial id, '/' as '__'>.json`: one `TrialRecord` per evaluation trial (its settings, the model
  it evaluated with that model's sha256, its metrics or its error, the code behind it, provenance), schema
  `SCHEMA`. `write_record` writes one atomically, `read_record` reads one, `read_records` a folder.
- `<run_dir>/plan.json`: the run's plan as validated (`harness.grid.plan.serialise`); `write_plan` writes it with
  `model_keys` (each model's key as the code that wrote it computes it, so that `verify` and `gc` know what the
  plan needs without importing any method), `current_hashes` reads which trial ids (and config hashes) are current.
Every reader raises `DamagedFileError` (one line naming the file and the fix) on a truncated or malformed file;
`report`, `verify`, the leaderboards and the runner all handle it the same way. Model entries are
`harness.store.models`'s; search summaries `harness.store.searches`'s.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from harness.store.files import DamagedFileError, read_json, write_atomic
from methods.base import ModelSpec

# Fields of a plan's experiment that do not determine a trial's result: its name, the other methods and seeds (the
# trial's own entry and seed are hashed), where it runs, and how a search samples (the choice it made is hashed).
NOT_RESULT_FIELDS = frozenset({"name", "methods", "seeds", "resources", "search", "snapshots"})


SCHEMA = 2  # 1: records before code fingerprints (no `code`, `stale`, `schema`)
REQUIRED = ("trial_id", "experiment", "task", "label", "seed", "status")


@dataclass
class TrialRecord:
    """What one evaluation trial left: the numbers and everything needed to trust them."""

    trial_id: str
    experiment: str
    task: str
    label: str
    seed: int
    status: str = "ok"  # ok | failed
    point: dict = field(default_factory=dict)
    config_hash: str = ""
    metrics: list = field(default_factory=list)  # [{"metric": str, "value": float | None}]
    error: str = ""
    dataset: str = ""
    arch: str = ""
    method_key: str = ""
    method_params: dict = field(default_factory=dict)
    task_params: dict = field(default_factory=dict)
    search: dict | None = None
    model_key: str | None = None
    model_sha256: str | None = None
    code: dict = field(default_factory=lambda: {"task": "", "method": "", "model": ""})
    stale: bool = False  # made from a model kept by --reuse-stale
    run_id: str = ""
    attempt: int = 1
    wall_time_s: float | None = None
    finished: float | None = None
    git_commit: str = ""
    versions: str = ""
    device: str = ""
    host: str = ""
    node: str = ""
    schema: int = SCHEMA

    @classmethod
    def from_dict(cls, data: dict, path: Path | str = "record") -> TrialRecord:
        missing = [k for k in REQUIRED if k not in data]
        if missing:
            raise DamagedFileError(
                f"{path}: damaged trial record (no {', '.join(missing)}). Delete it and rerun the "
                f"grid to redo it."
            )
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values.setdefault("schema", 1)
        for name in ("point", "method_params", "task_params"):
            values[name] = values.get(name) or {}
        values["code"] = {"task": "", "method": "", "model": "", **(values.get("code") or {})}
        return cls(**values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def record_path(run_dir: Path, trial_id: str) -> Path:
    return Path(run_dir) / "trials" / (trial_id.replace("/", "__") + ".json")


def artifacts_dir(run_dir: Path, *parts: str) -> Path:
    """`<run_dir>/artifacts/<trial id>/`: what a trial writes besides its record (per-input tables, figures);
    `parts` are the trial id's or its folders' components (`experiment`, `label`, `seed0`)."""
    return Path(run_dir).joinpath("artifacts", *(p for part in parts for p in str(part).split("/")))


def write_record(run_dir: Path, record: TrialRecord) -> None:
    path = record_path(run_dir, record.trial_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(record.to_dict(), indent=1, default=float).encode())


def read_record(path: Path) -> TrialRecord:
    return TrialRecord.from_dict(read_json(path, "trial record"), path)


def read_records(run_dir: Path) -> list[TrialRecord]:
    """Every record of a grid's folder, in file order; DamagedFileError on the first damaged one."""
    return [read_record(p) for p in sorted((Path(run_dir) / "trials").glob("*.json"))]


def write_plan(run_dir: Path, document: dict) -> None:
    keys = [ModelSpec(**spec).key for layer in document.get("models", []) for spec in layer]
    document = {**document, "model_keys": keys}
    data, path = json.dumps(document, indent=1, default=str).encode(), Path(run_dir) / "plan.json"
    if not (
        path.exists() and path.read_bytes() == data
    ):  # unchanged: left as it is (its time says when)
        write_atomic(path, data)


def read_plan(run_dir: Path) -> dict | None:
    path = Path(run_dir) / "plan.json"
    return read_json(path, "plan") if path.exists() else None


def trial_hashes(trials: list[dict]) -> dict[str, str]:
    """trial id -> config hash of a plan's `trials` (KeyError or TypeError on a damaged one)."""
    return {t["trial_id"]: t["config_hash"] for t in trials}


def current_hashes(run_dir: Path) -> dict[str, str] | None:
    """trial id -> config hash of the grid's current plan (`plan.json`); None when there is none."""
    doc = read_plan(run_dir)
    if doc is None:
        return None
    if isinstance(doc.get("trials"), list):
        try:
            return trial_hashes(doc["trials"])
        except (KeyError, TypeError):
            raise DamagedFileError(
                f"{Path(run_dir) / 'plan.json'}: damaged plan (a trial without trial_id or "
                f"config_hash). Rerun the grid to write it again."
            ) from None
    return doc  # written before the plan was one document: trial id -> config hash
