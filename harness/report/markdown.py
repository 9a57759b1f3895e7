"""GFM table lines for every Markdown page the reports write (`leaderboard.md`, `reproduction.md`): a row has
exactly the cells it is given, empty ones included, and a `|` inside a cell is escaped, so no row can shift
its cells into the next column. Public: `row`, `rule`."""

from __future__ import annotations


def row(*cells: str) -> str:
    """One table row: `row("a", "", "b")` -> `| a | | b |`."""
    escaped = (str(c).replace("|", r"\|") for c in cells)
    return "|" + "|".join(f" {c} " if c else " " for c in escaped) + "|"


def rule(columns: int) -> str:
    """The line under a header of `columns` cells: `|---|---|`."""
    return "|---" * columns + "|"
