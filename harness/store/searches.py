"""Search summaries: `<results>/searches/<key>.json`, one per search (the configurations tried, the one chosen and
its model's key), shared by every grid of a results folder like the model store. Written by
`harness.execution.search.run`, read here for a run's choices and for `harness verify`."""

from __future__ import annotations

import json
from pathlib import Path

from harness.store.files import write_atomic


def summary_path(results: Path, search) -> Path:
    """Where the summary of `search` (anything with a `key`) is kept."""
    return Path(results) / "searches" / f"{search.key}.json"


def load_summary(results: Path, search) -> dict | None:
    try:
        summary = json.loads(summary_path(results, search).read_text())
    except (OSError, ValueError):
        return None
    return (
        summary if isinstance(summary, dict) and summary.get("status") in ("ok", "failed") else None
    )


def stored_summaries(results: Path) -> list[dict]:
    """Every search summary under `results/searches` (`harness verify`); an unreadable one has status
    "unreadable" (a rerun of its grid searches again)."""
    out = []
    for path in sorted((Path(results) / "searches").glob("*.json")):
        try:
            summary = json.loads(path.read_text())
        except (OSError, ValueError):
            summary = None
        if not isinstance(summary, dict) or summary.get("status") not in ("ok", "failed"):
            summary = {"key": path.stem, "status": "unreadable", "error": "unreadable summary"}
        out.append(summary)
    return out


def write_summary(results: Path, search, summary: dict) -> None:
    write_atomic(summary_path(results, search), json.dumps(summary, indent=1, default=str).encode())
