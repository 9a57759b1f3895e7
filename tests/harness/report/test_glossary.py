"""docs/metrics.md, the glossary that leaderboard.md and the report link to: every registered task has its table,
every metric name on the committed reports' leaderboards has an entry under its task (or among the methods'
diagnostics; a training snapshot's `@epoch=<e>` is explained once, atop the glossary), and each entry's direction is the one the task gives the metric (the leaderboard's arrows)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from harness.report.leaderboard_md import GLOSSARY, GLOSSARY_LINK
from tasks import get as get_task
from tasks.registry import names
from tests.conftest import ROOT

DIAGNOSTICS = "posterior"  # the methods' own rows (`Method.diagnostics`): no task direction applies
ARROWS = {"↑": "max", "↓": "min", "—": None}
BOARDS = sorted((ROOT / "reports").glob("*/leaderboard.csv"))
# a training snapshot's point, which the harness appends to a task's metric name (harness.report.leaderboard.swept)
SNAPSHOT = re.compile(r"@epoch=\d+$")


def _entries() -> dict[str, list[tuple[re.Pattern, str | None]]]:
    """Section ("<task key>" or DIAGNOSTICS) -> (name pattern, direction) per glossary entry."""
    out, section = {}, None
    for line in (ROOT / GLOSSARY).read_text().splitlines():
        if line.startswith("## "):
            key = re.match(r"## `(\w+)`", line)
            section = key[1] if key else DIAGNOSTICS if "diagnostics" in line else None
        elif section and line.startswith("| `"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
            entry_names = re.findall(r"`([^`]+)`", cells[0])
            arrows = [a.strip() for a in cells[1].split(",")]
            arrows = arrows * len(entry_names) if len(arrows) == 1 else arrows
            for name, arrow in zip(entry_names, arrows, strict=True):
                pattern = re.compile(re.sub(r"<\w+>", "[^/@=]+", re.escape(name)))
                out.setdefault(section, []).append((pattern, ARROWS[arrow]))
    return out


def _direction(section: str, metric: str) -> tuple[bool, str | None]:
    found = [d for pattern, d in _entries().get(section, []) if pattern.fullmatch(metric)]
    return bool(found), found[0] if found else None


def test_every_registered_task_has_a_table():
    assert set(names()) <= set(_entries())


@pytest.mark.parametrize("board", BOARDS, ids=[b.parent.name for b in BOARDS])
def test_every_metric_of_a_committed_leaderboard_is_explained_with_its_direction(board):
    metrics = pd.read_csv(board)[["task", "metric"]].drop_duplicates()
    for task, metric in metrics.itertuples(index=False):
        if metric.startswith(f"{DIAGNOSTICS}/"):
            assert _direction(DIAGNOSTICS, SNAPSHOT.sub("", metric))[0], metric
            continue
        known, direction = _direction(task, SNAPSHOT.sub("", metric))
        assert known, f"docs/metrics.md has no entry for {task}'s {metric}"
        assert direction == get_task(task).direction(metric), (task, metric)


def test_the_glossary_link_lands_from_a_results_folder_in_the_repository():
    target = re.search(r"\]\(([^)]+)\)", GLOSSARY_LINK)[1]
    for folder in (ROOT / "reports" / "paper-cpu", ROOT / "results" / "demo"):
        assert (folder / target).resolve() == (ROOT / GLOSSARY).resolve()
