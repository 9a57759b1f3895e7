"""The tables of `leaderboard.md` (laid out by `harness.report.leaderboard_md`), as lists of Markdown lines.

`wide_table`: methods as rows and metrics as columns (metrics as rows past `TRANSPOSE_ABOVE` of them); rows the
same for every method are folded into one, a column the same for every method into a line under the table.
`long_table`: a sweep (`accuracy/n=<n>`, `time_s@side=<s>`), a row per method and parameter value in numeric
order, its status flag as a column. A cell is mean ± half its 95% interval (`numbers.fmt_ci`), [n=k] with fewer
seeds, the paper's number beside it; bold only for a best that a paired t over seeds separates from every other
method (`separated_best`). Every row has as many cells as its header (GFM).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import harness.report.markdown as md
import harness.report.paired as paired
from harness.report.numbers import fmt_ci

STATUS_METRIC = "over_budget"  # a sweep's 0/1 flag, shown as the point's status
ARROWS = {"max": " ↑", "min": " ↓"}
TRANSPOSE_ABOVE = 12  # more metrics than this in one table: a row per metric, a column per method


class Notes(dict):
    """Footnote marks (note -> †, ††, ...) for paper numbers the authors computed differently."""

    def mark(self, note: str) -> str:
        return self.setdefault(note, "†" * (len(self) + 1)) if note else ""

    def lines(self) -> list[str]:
        return [
            f"{mark} computed differently by the authors: {note}" for note, mark in self.items()
        ]


def _num(value: str):
    try:
        return 0, float(value)
    except ValueError:
        return 1, value


def _cell(r, n_max: int, bold: bool, notes: Notes) -> str:
    cell = fmt_ci(r["mean"], (r.ci95_high - r.ci95_low) / 2)
    if np.isfinite(r["mean"]) and r.n_seeds < n_max:
        cell += f" [n={r.n_seeds}]"
    if bold and np.isfinite(r["mean"]):
        cell = f"**{cell}**"
    if bool(r.get("stale", False)):
        cell += " ⚠stale code"
    if np.isfinite(r.paper):
        cell += f" (paper {r.paper:g}{notes.mark(r.paper_note)})"
    return cell


def separated_best(rows: pd.DataFrame, by: list[str], seeds: pd.DataFrame) -> set:
    """Index labels to bold, at most one per group of `by`: the best mean, when a paired t over seeds puts every
    other method of the group significantly behind it (Holm over those comparisons, α = 0.05); none otherwise,
    and none for a metric without a direction. `seeds`: the experiment's ok raw rows (method, metric, seed,
    value)."""
    bold = set()
    for _, g in rows.groupby(by, sort=False):
        d, valid = g.direction.iloc[0], g[g["mean"].notna()]
        if d not in ("max", "min") or len(valid) < 2:
            continue
        best = valid["mean"].idxmax() if d == "max" else valid["mean"].idxmin()
        per_seed = seeds[seeds.metric == valid.loc[best, "metric"]].pivot_table(
            index="seed", columns="method", values="value"
        )
        sign = 1 if d == "max" else -1

        def values(method):
            column = per_seed[method].dropna() if method in per_seed else pd.Series(dtype=float)
            return {s: sign * v for s, v in column.items()}

        ahead = values(valid.loc[best, "method"])
        tests = [
            paired.two_sided(
                paired.seed_difference(ahead, values(valid.loc[i, "method"])), paired.ABOVE_ZERO
            )
            for i in valid.index
            if i != best
        ]
        adjusted = paired.holm([p for p, _ in tests])
        if all(paired.outcome(p, side) == paired.HOLDS for (_, side), p in zip(tests, adjusted)):
            bold.add(best)
    return bold


def _grid(group: pd.DataFrame, n_max: int, notes: Notes, seeds: pd.DataFrame) -> pd.DataFrame:
    """The formatted cells, a row per method and a column per metric ("" where a method has no number)."""
    best = separated_best(group, ["metric"], seeds)
    metrics, methods = list(dict.fromkeys(group.metric)), list(dict.fromkeys(group.method))
    grid = pd.DataFrame("", index=methods, columns=metrics)
    for i, r in group.iterrows():
        grid.loc[r.method, r.metric] = _cell(r, n_max, i in best, notes)
    return grid


def _fold(grid: pd.DataFrame, header: dict) -> tuple[pd.DataFrame, list[str]]:
    """A column the same for every method becomes a line under the table; a table whose every row is the same
    (a method-free reference such as `classifier/*`) one row."""
    same = [
        m for m in grid.columns if len(grid) > 1 and grid[m].ne("").all() and grid[m].nunique() == 1
    ]
    if not same:
        return grid, []
    if len(same) == len(grid.columns):  # a few methods are named, many counted
        label = ", ".join(grid.index) if len(grid) <= 4 else f"every method ({len(grid)})"
        return grid.iloc[:1].rename(index={grid.index[0]: label}), []
    shown = ", ".join(f"`{header[m]}` {grid[m].iloc[0]}" for m in same)
    return grid.drop(columns=same), ["", f"The same for every method: {shown}."]


def wide_table(group: pd.DataFrame, n_max: int, notes: Notes, seeds: pd.DataFrame) -> list[str]:
    """One table of `group`'s metrics (see the module docstring), with the lines that fold it."""
    arrows = group.drop_duplicates("metric").set_index("metric").direction
    header = {m: m + ARROWS.get(arrows[m], "") for m in arrows.index}
    grid, folded = _fold(_grid(group, n_max, notes, seeds), header)
    if len(grid.columns) > TRANSPOSE_ABOVE:
        out = [md.row("metric", *grid.index), md.rule(len(grid) + 1)]
        out += [md.row(header[m], *grid[m]) for m in grid.columns]
    else:
        out = [md.row("method", *(header[m] for m in grid.columns)), md.rule(len(grid.columns) + 1)]
        out += [md.row(method, *cells) for method, cells in zip(grid.index, grid.to_numpy())]
    return out + folded


def _status(at: pd.DataFrame, dead: bool) -> str:
    flag = at[at.base == STATUS_METRIC]
    share = flag["mean"].iloc[0] if len(flag) else 0.0
    if dead:
        return "failed"
    if not share > 0:
        return "ok"
    return "over budget" if share >= 1 else f"over budget in {share:.0%} of seeds"


def long_table(
    sweep: pd.DataFrame, param: str, failed: set, n_max: int, notes: Notes, seeds: pd.DataFrame
) -> list[str]:
    """One row per method and parameter value; the sweep's status flag as a column. `failed`: (parameter, value,
    method) of failed trials, whose points may have no metric at all."""
    bases = [b for b in dict.fromkeys(sweep.base) if b != STATUS_METRIC]
    flagged = STATUS_METRIC in set(sweep.base) or any(k[0] == param for k in failed)
    best = separated_best(sweep[sweep.base != STATUS_METRIC], ["base", "value"], seeds)
    arrows = sweep.drop_duplicates("base").set_index("base").direction
    header = ["method", param, *(b + ARROWS.get(arrows[b], "") for b in bases)]
    out = [md.row(*header, *(["status"] if flagged else [])), md.rule(len(header) + flagged)]
    dead = {(v, m) for k, v, m in failed if k == param}
    values = sorted(dict.fromkeys([*sweep.value, *(v for v, _ in dead)]), key=_num)
    for method in dict.fromkeys([*sweep.method, *(m for _, m in dead)]):
        for value in values:
            at = sweep[(sweep.method == method) & (sweep.value == value)]
            if at.empty and (value, method) not in dead:
                continue
            cells = []
            for base in bases:
                row = at[at.base == base]
                cells.append(
                    "" if row.empty else _cell(row.iloc[0], n_max, row.index[0] in best, notes)
                )
            status = [_status(at, (value, method) in dead)] if flagged else []
            out.append(md.row(method, value, *cells, *status))
    return out
