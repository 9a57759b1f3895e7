"""`python -m harness pack RUN_DIR DEST`: a grid's results folder reduced to what its report is rebuilt from.

A committed report must rebuild from its own files on a fresh clone (`python -m harness report DEST --paper`):
its verdicts read the trial records and, for paired tests of AUROCs, every OOD trial's per-input scores.
`pack` copies the trial records (`trials/*.json`), `plan.json` (which records are current; without the machine
paths a run records: `plugin_paths`, an absolute grid path is cut to its file name), search summaries and, from
`artifacts/`, every per-input CSV gzip-compressed (`scores.csv.gz`, `per_input.csv.gz`, `accuracies.csv.gz`: the
report's readers take either form) and the imputation sample grids the figures show. A float column whose every
value is a float32 (the tasks' scores are computed in float32) is written in float32's shortest decimal form: the
same float32 values, the same order and ties (so the same AUROCs and DeLong variances), within 6e-8 relative of
the float64 text the run wrote, in about two thirds of the bytes; any other column is copied as written. Models, Tune's state,
locks, per-trial plots and any code stay behind. It prints the packed size. `--without-inputs EXPERIMENT ...` leaves
those experiments' per-input tables behind (their numbers stay in the records; no verdict or figure of theirs can
need them then): for an experiment read only through its metrics, such as a sweep over training snapshots.
`--merge` adds the run's trials to the pack already in DEST, a part of the same grid (`harness.store.merge`).
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

from harness.store.merge import MergeError, merged_plan, package_changes
from harness.store.records import artifacts_dir, read_plan, read_records, trial_hashes

KEPT_IMAGES = (
    "imputations.png",
)  # per-trial images a report figure is drawn from (laebench_paper.figures)


def pack(
    run_dir: str | Path, dest: str | Path, without_inputs: tuple[str, ...] = (), merge: bool = False
) -> int:
    """Copy what `report` needs from `run_dir` into `dest` (created); returns the bytes written. The per-input
    tables of the experiments in `without_inputs` stay behind. With `merge`, `dest` holds a pack of the same grid
    and the run's trials are added to it (MergeError, before anything is written, when they are not one grid's)."""
    run_dir, dest = Path(run_dir), Path(dest)
    if not (run_dir / "trials").is_dir():
        raise ValueError(
            f"No trial records under {run_dir / 'trials'}: pass the folder of one grid's results, "
            f"e.g. results/demo."
        )
    artifacts = artifacts_dir(run_dir)
    present = {p.name for p in artifacts.iterdir() if p.is_dir()} if artifacts.is_dir() else set()
    unknown = sorted(set(without_inputs) - present)
    if unknown:
        raise ValueError(
            f"--without-inputs names {', '.join(unknown)}, which has no per-input tables in {run_dir}; "
            f"experiments that have: {', '.join(sorted(present)) or 'none'}."
        )
    if dest.resolve() == run_dir.resolve():
        raise ValueError(f"pack {run_dir} into another folder, not into itself.")
    plan = read_plan(run_dir)
    if merge:
        plan = _merge_into(dest, run_dir, plan)
    elif plan is not None:
        plan = portable_plan(plan)
    dest.mkdir(parents=True, exist_ok=True)
    copied = [
        _copy(p, dest / p.relative_to(run_dir)) for p in sorted((run_dir / "trials").glob("*.json"))
    ]
    if plan is not None:
        (dest / "plan.json").write_text(json.dumps(plan, indent=1, default=str))
        copied.append((dest / "plan.json").stat().st_size)
    if (run_dir / "searches.csv").exists():
        copied.append(_copy(run_dir / "searches.csv", dest / "searches.csv"))
    for path in sorted(artifacts.rglob("*")) if artifacts.is_dir() else []:
        if path.relative_to(artifacts).parts[0] in without_inputs:
            continue
        target = dest / path.relative_to(run_dir)
        if path.suffix == ".csv":
            target = target.with_name(target.name + ".gz")
            target.parent.mkdir(parents=True, exist_ok=True)
            with gzip.GzipFile(target, "wb", mtime=0) as out:  # mtime 0: same bytes
                out.write(compact_csv(path))
            copied.append(target.stat().st_size)
        elif path.name in KEPT_IMAGES or path.name.endswith(".csv.gz"):  # .csv.gz: packed already
            copied.append(_copy(path, target))
    return sum(copied)


def _merge_into(dest: Path, run_dir: Path, plan: dict | None) -> dict:
    """The plan of the pack in `dest` with the run's trials added; MergeError when there is nothing to merge."""
    packed = read_plan(dest) if dest.is_dir() else None
    if packed is None or plan is None:
        where = dest if packed is None else run_dir
        raise MergeError(
            f"--merge needs a plan.json in {where}: merge a run into a folder that holds a pack of its grid "
            f"(or pack without --merge)"
        )
    packed_records, records = (
        _current(read_records(dest), packed),
        _current(read_records(run_dir), plan),
    )
    merged = merged_plan(packed, portable_plan(plan), packed_records, records)
    changes = package_changes(packed_records, records)
    if changes:
        print(
            f"note: the merged records were made with other package versions: {'; '.join(changes)}"
        )
    return merged


def _current(records: list, plan: dict) -> list:
    """The records of the plan's trials as it planned them (not those an earlier version of the grid left)."""
    hashes = trial_hashes(plan.get("trials", []))
    return [r for r in records if hashes.get(r.trial_id) == r.config_hash]


def compact_csv(path: Path) -> bytes:
    """The per-input table at `path` with its float32-valued float columns in float32's shortest form."""
    import numpy as np
    import pandas as pd

    table = pd.read_csv(path, keep_default_na=False, na_values=[""])
    for name in table.columns:
        values = table[name].to_numpy()
        if values.dtype == np.float64 and np.array_equal(
            values.astype(np.float32).astype(np.float64), values, equal_nan=True
        ):
            table[name] = values.astype(np.float32)
    return table.to_csv(index=False, lineterminator="\n").encode()


def portable_plan(plan: dict) -> dict:
    """A plan without the paths of the machine that ran it: no `plugin_paths` (a report never imports plugins from
    its folder), an absolute grid `source` cut to its file name."""
    out = {k: v for k, v in plan.items() if k != "plugin_paths"}
    if isinstance(out.get("source"), str) and Path(out["source"]).is_absolute():
        out["source"] = Path(out["source"]).name
    return out


def _copy(src: Path, dst: Path) -> int:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst.stat().st_size


def artifact(folder: Path, name: str) -> Path | None:
    """`folder/name`, or its packed form `folder/name.gz`; None when neither exists."""
    for path in (folder / name, folder / f"{name}.gz"):
        if path.exists():
            return path
    return None
