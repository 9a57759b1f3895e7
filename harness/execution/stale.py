"""Models whose code changed since they were trained: named in a run (trained anew), or with `--reuse-stale` kept
(the plan pins their code and their records are marked)."""

from __future__ import annotations

from harness.store.layout import Entry
from methods.base import UNRECORDED


def note_stale(stale: dict[str, Entry], reuse_stale: bool, log) -> dict[str, str] | None:
    """Say which models are to be trained because their code changed since a stored model of the same
    configuration was trained (`stale`: model key -> that stored model, `harness.store.progress`); with
    `reuse_stale`, the pins (model key -> the stored model's code) to plan with those stored models instead."""
    if not stale:
        return None
    log(
        f"[laebench] {len(stale)} model(s) whose code changed since they were trained: "
        + (
            "reusing the stored ones (--reuse-stale; their cells are marked)"
            if reuse_stale
            else "training them anew (--reuse-stale keeps the stored ones)"
        )
    )
    for key, found in list(stale.items())[:5]:
        old = found.manifest.get("code") or "unrecorded"
        log(f"  old {found.folder.name} (code {old}) -> new {key} (the code now)")
    return (
        {k: e.manifest.get("code") or UNRECORDED for k, e in stale.items()} if reuse_stale else None
    )
