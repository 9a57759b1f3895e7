"""The searches behind a grid's results, from its evaluation records (each carries its model's search):
`searches.csv` (one row per experiment, method label and seed) and the leaderboard's "Searches" section."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from harness.store.records import read_records

COLUMNS = [
    "experiment",
    "method",
    "seed",
    "search_key",
    "metric",
    "mode",
    "best_value",
    "chosen",
    "trials",
    "finished",
    "stopped_early",
    "failed",
    "model_key",
]


def search_rows(
    run_dir: Path, current: dict | None = None, records: list | None = None
) -> pd.DataFrame:
    rows = {}
    for record in read_records(run_dir) if records is None else records:
        rec, search = record.to_dict(), record.search
        if not search or (
            current is not None and current.get(rec["trial_id"]) != rec.get("config_hash")
        ):
            continue
        chosen = {
            **{f"params.{k}": v for k, v in (rec.get("method_params") or {}).items()},
            **{f"train.{k}": v for k, v in (search.get("train") or {}).items()},
        }
        picked = {k: chosen[k] for k in (search.get("best") or {}).get("config", {}) if k in chosen}
        rows[(rec["experiment"], rec["label"], rec["seed"])] = {
            "experiment": rec["experiment"],
            "method": rec["label"],
            "seed": rec["seed"],
            "search_key": search["key"],
            "metric": search["metric"],
            "mode": search["mode"],
            "best_value": search["best"]["value"],
            "chosen": json.dumps(picked, sort_keys=True),
            "trials": search["trials"],
            "finished": search["finished"],
            "stopped_early": search["stopped_early"],
            "failed": search["failed"],
            "model_key": search["best"]["model_key"],
        }
    return pd.DataFrame(list(rows.values()), columns=COLUMNS)


def search_markdown(table: pd.DataFrame) -> str:
    """A markdown section listing the chosen configurations, or "" when the grid searched nothing."""
    if table.empty:
        return ""
    lines = [
        "",
        "## Searches",
        "",
        "Configurations chosen on validation data (never the test split), per experiment, method and seed.",
        "",
        "| experiment | method | seed | chosen | metric | best | trials | finished | stopped early | failed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in table.itertuples():
        chosen = ", ".join(
            f"{k.split('.', 1)[1]}={_short(v)}" for k, v in json.loads(r.chosen).items()
        )
        lines.append(
            f"| {r.experiment} | {r.method} | {r.seed} | {chosen} | {r.metric} ({r.mode}) | "
            f"{r.best_value:.4g} | {r.trials} | {r.finished} | {r.stopped_early} | {r.failed} |"
        )
    return "\n".join(lines) + "\n"


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
