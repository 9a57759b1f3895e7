"""Leaderboards from trial records: `raw.csv`, `leaderboard.csv`, `leaderboard.md`.

`raw.csv` has a row per trial, metric and seed with provenance (config hash, model key, git commit,
package versions, device); failed trials appear with `status=failed` and their error. `leaderboard.csv`
aggregates over seeds: mean, std, 95% interval (Student t; on the logit scale for proportions such as AUROC and
accuracy, so it stays inside [0, 1]: `numbers.unit_interval`), n_seeds, what the metric's name packs as columns (measure,
score, convention, sweep, numeric sweep_value: `harness.report.metric_names`), the provenance of the trials
behind it (commits, config hashes, versions, devices), and the paper's published number where there
is one (the registered paper's reference table, e.g. `laebench_paper/reference.csv`; `paper_note` where the authors
computed it differently). A peak memory of 0 or less means "not measured" (below the measurement floor) and
is left out of the mean. `leaderboard.md` (`harness.report.leaderboard_md`) shows per experiment the table of the
task's headline metrics first, then the others, methods as rows, a best mean in bold only where a paired test
separates it from every other method, each number rounded to 2 significant digits of its CI95 half-width; a
per-parameter sweep (`time_s@side=<s>`, `accuracy/n=<n>`) is a long table, a row per method and parameter value,
numerically sorted, over-budget and failed points marked. `write_leaderboards(run_dir)` rebuilds all three from
`trials/*.json` (`python -m harness report DIR`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from harness.report.claims import reference
from harness.report.freshness import leaderboards_current, mark_current
from harness.report.leaderboard_md import to_markdown
from harness.report.metric_names import PART_COLUMNS, in_unit_range, metric_parts
from harness.report.numbers import ci95_half, unit_interval
from harness.report.search_table import search_markdown, search_rows
from harness.store.records import TrialRecord, artifacts_dir, current_hashes, read_records
from tasks.base import Task

PROVENANCE = [
    "git_commit",
    "config_hash",
    "versions",
    "device",
]  # every distinct value, joined by "; "
RAW_COLUMNS = [
    "experiment",
    "task",
    "dataset",
    "arch",
    "method",
    "method_key",
    "seed",
    "point",
    "metric",
    "value",
    "status",
    "error",
    "config_hash",
    "model_key",
    "git_commit",
    "versions",
    "device",
    "host",
    "node",
    "wall_time_s",
    "trial_id",
    "method_params",
    "task_params",
    "task_code",
    "method_code",
    "model_code",
    "stale",
]
BOARD_COLUMNS = [
    "experiment",
    "task",
    "dataset",
    "arch",
    "method",
    "metric",
    *PART_COLUMNS,
    "mean",
    "std",
    "ci95_low",
    "ci95_high",
    "n_seeds",
    "paper",
    "paper_std",
    "direction",
    "paper_note",
    "stale",
    *PROVENANCE,
]
NOT_MEASURED = re.compile(r"^peak_mem")  # a peak memory <= 0 was below the measurement floor


def paper_reference() -> pd.DataFrame:
    """The published numbers of the registered papers (`harness.report.claims`), for the `paper` columns."""
    return reference().drop(columns="paper")


def swept(metric: str, point: dict) -> str:
    """The metric's name with each parameter of the trial's point it does not name already appended
    (`auroc/sigma2_output` of the trial at point {"epoch": 4} -> `auroc/sigma2_output@epoch=4`), so that numbers
    of different points are never averaged together (a task's own sweep, `time_s@side=16`, names its point)."""
    for key, value in sorted((point or {}).items()):
        if f"{key}=" not in metric:
            metric = f"{metric}@{key}={value}"
    return metric


def collect_raw(
    run_dir: Path, current: dict | None = None, records: list[TrialRecord] | None = None
) -> pd.DataFrame:
    """A row per trial and metric from the grid's trial records (`harness.store.records`; `records` when the
    caller read them), only those of its current plan: every column comes from the record itself."""
    current = current_hashes(run_dir) if current is None else current
    rows = []
    for rec in read_records(run_dir) if records is None else records:
        if current is not None and current.get(rec.trial_id) != rec.config_hash:
            continue  # a trial of an earlier version of the grid
        base = {
            "experiment": rec.experiment,
            "task": rec.task,
            "dataset": rec.dataset,
            "arch": rec.arch,
            "method": rec.label,
            "method_key": rec.method_key,
            "seed": rec.seed,
            "point": json.dumps(rec.point, sort_keys=True),
            "status": rec.status,
            "error": rec.error,
            "config_hash": rec.config_hash,
            "model_key": rec.model_key or "",
            "git_commit": rec.git_commit,
            "versions": rec.versions,
            "device": rec.device,
            "host": rec.host,
            "node": rec.node,
            "wall_time_s": rec.wall_time_s,
            "trial_id": rec.trial_id,
            "method_params": json.dumps(rec.method_params, sort_keys=True, default=str),
            "task_params": json.dumps(rec.task_params, sort_keys=True, default=str),
            **{f"{part}_code": rec.code.get(part, "") for part in ("task", "method", "model")},
            "stale": rec.stale,
        }
        if rec.status != "ok" or not rec.metrics:
            rows.append({**base, "metric": "", "value": np.nan})
        for m in rec.metrics:
            value = m["value"]
            rows.append(
                {
                    **base,
                    "metric": swept(m["metric"], rec.point),
                    "value": np.nan if value is None else float(value),
                }
            )
    return pd.DataFrame(rows, columns=RAW_COLUMNS)


def aggregate(raw: pd.DataFrame, run_dir: Path | None = None) -> pd.DataFrame:
    from tasks import get as get_task

    ok = raw[(raw.status == "ok") & (raw.metric != "")].copy()
    ok.loc[ok.metric.str.match(NOT_MEASURED) & (ok.value <= 0), "value"] = np.nan
    keys = ["experiment", "task", "dataset", "arch", "method", "metric"]
    rows = []
    for key, group in ok.groupby(keys, sort=False, dropna=False):
        values = group.value.dropna().to_numpy(dtype=float)
        n = len(values)
        mean = values.mean() if n else np.nan
        std = values.std(ddof=1) if n > 1 else np.nan
        half = ci95_half(values)
        low, high = unit_interval(values) if in_unit_range(key[5]) else (mean - half, mean + half)
        try:
            direction = get_task(key[1]).direction(key[5])
        except ValueError:
            direction = None
        rows.append(
            dict(
                zip(keys, key),
                mean=mean,
                std=std,
                ci95_low=low,
                ci95_high=high,
                n_seeds=n,
                direction=direction,
                stale=bool(group.get("stale", pd.Series(False)).any()),
                **_provenance(group),
            )
        )
    rows += _summaries(raw, keys, run_dir)
    paper_cols = ("paper", "paper_std", "paper_note")
    board = pd.DataFrame(rows, columns=[c for c in BOARD_COLUMNS if c not in paper_cols])
    ref = paper_reference().rename(
        columns={"value": "paper", "std": "paper_std", "note": "paper_note"}
    )
    cols = ["task", "dataset", "method", "metric", *paper_cols]
    exact = board.merge(ref[ref.method != "*"][cols], on=cols[:4], how="left")
    # method "*": a number that holds for every method's row (the paper's classifier-on-masked-input row)
    anyone = board.merge(
        ref[ref.method == "*"][cols].drop(columns="method"),
        on=["task", "dataset", "metric"],
        how="left",
    )
    board = exact.fillna({c: anyone[c] for c in paper_cols})
    board["paper_note"] = board["paper_note"].fillna("")
    board["stale"] = board["stale"].astype("boolean").fillna(False).astype(bool)
    parts = pd.DataFrame([metric_parts(m) for m in board.metric], columns=PART_COLUMNS)
    board[PART_COLUMNS] = parts.set_index(board.index)
    return board[BOARD_COLUMNS]


def _provenance(rows: pd.DataFrame) -> dict:
    """Each provenance column's distinct values over the trials behind a leaderboard row, joined by "; "."""
    return {
        col: "; ".join(sorted({str(v) for v in rows[col].dropna() if str(v)}))
        if col in rows
        else ""
        for col in PROVENANCE
    }


def _summaries(raw: pd.DataFrame, keys: list[str], run_dir: Path | None = None) -> list[dict]:
    """Cross-trial rows from each experiment's task (`Task.summarize`), e.g. log-log scaling slopes."""
    from tasks import get as get_task

    rows = []
    ok = raw[(raw.status == "ok") & (raw.metric != "")]
    for (experiment, task_key), group in ok.groupby(["experiment", "task"], sort=False):
        try:
            task_cls = get_task(task_key)
        except ValueError:
            continue
        if task_cls.summarize is Task.summarize:
            continue
        first = group.iloc[0]
        artifact_dir = (
            artifacts_dir(run_dir, experiment) if run_dir is not None else None
        )  # None: write nothing
        params = json.loads(first.task_params) if isinstance(first.task_params, str) else {}
        for r in task_cls(params).summarize(group, artifact_dir):
            rows.append(
                {
                    **dict(
                        zip(
                            keys,
                            [
                                experiment,
                                task_key,
                                first.dataset,
                                first.arch,
                                r["method"],
                                r["metric"],
                            ],
                        )
                    ),
                    "mean": r["value"],
                    "std": np.nan,
                    "ci95_low": np.nan,
                    "ci95_high": np.nan,
                    "n_seeds": r.get("n", 1),
                    "direction": task_cls.direction(r["metric"]),
                    **_provenance(group),
                }
            )
    return rows


def write_leaderboards(run_dir: str | Path, force: bool = True) -> pd.DataFrame:
    """raw.csv, leaderboard.csv, leaderboard.md (and searches.csv) of a grid's results folder, from its records;
    the leaderboard. Without `force`, files already made from these very records, plan and report code are kept
    and read back (a rerun with nothing to do takes a second, not five)."""
    run_dir = Path(run_dir)
    if not (run_dir / "trials").is_dir() or not any((run_dir / "trials").glob("*.json")):
        raise FileNotFoundError(
            f"No trial records under {run_dir / 'trials'}: pass the folder of one grid's "
            f"results, e.g. results/demo."
        )
    board_path = run_dir / "leaderboard.csv"
    if not force and leaderboards_current(run_dir):
        return pd.read_csv(board_path)
    current, records = current_hashes(run_dir), read_records(run_dir)  # the store, read once
    raw = collect_raw(run_dir, current, records)
    raw.to_csv(run_dir / "raw.csv", index=False)
    board = aggregate(raw, run_dir)
    board.to_csv(board_path, index=False)
    searches = search_rows(run_dir, current, records)
    if not searches.empty:
        searches.to_csv(run_dir / "searches.csv", index=False)
    (run_dir / "leaderboard.md").write_text(to_markdown(board, raw) + search_markdown(searches))
    mark_current(run_dir)
    return board
