"""`leaderboard.md`: a table per experiment (methods as rows; a sweep as a long table sorted by its value), each
number rounded to its interval, the best mean bold only with the methods not significantly behind it, the
paper's number beside ours, failed trials listed."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

import harness.report.paired as paired
from harness.report.metric_names import SWEEP
from harness.report.numbers import fmt_ci

STATUS_METRIC = "over_budget"  # a sweep's 0/1 flag, shown as the point's status

ARROWS = {"max": " ↑", "min": " ↓"}


def _num(value: str):
    try:
        return 0, float(value)
    except ValueError:
        return 1, value


class _Notes(dict):
    """Footnote marks (note -> †, ††, ...) for paper numbers the authors computed differently."""

    def mark(self, note: str) -> str:
        return self.setdefault(note, "†" * (len(self) + 1)) if note else ""

    def lines(self) -> list[str]:
        return [
            f"{mark} computed differently by the authors: {note}" for note, mark in self.items()
        ]


def _cell(r, n_max: int, bold: bool, notes: _Notes) -> str:
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


def _best(rows: pd.DataFrame, by: list[str], seeds: pd.DataFrame) -> set:
    """Index labels to bold per group of `by`: the best mean and every method not significantly behind it (paired t
    over seeds, Holm over the group's comparisons, alpha 0.05); none when no method is ahead of every other.
    `seeds` holds the ok raw rows of the experiment (method, metric, seed, value)."""
    bold = set()
    for _, g in rows.groupby(by, sort=False):
        d, valid = g.direction.iloc[0], g[g["mean"].notna()]
        if d not in ("max", "min") or len(valid) < 2:
            continue
        best = valid["mean"].idxmax() if d == "max" else valid["mean"].idxmin()
        metric = valid.loc[best, "metric"]
        per_seed = seeds[seeds.metric == metric].pivot_table(
            index="seed", columns="method", values="value"
        )
        sign = 1 if d == "max" else -1

        def values(method):
            return (
                {s: sign * v for s, v in per_seed[method].dropna().items()}
                if method in per_seed
                else {}
            )

        others = [i for i in valid.index if i != best]
        tests = [
            paired.two_sided(
                paired.seed_difference(
                    values(valid.loc[best, "method"]), values(valid.loc[i, "method"])
                ),
                paired.ABOVE_ZERO,
            )
            for i in others
        ]
        adjusted = paired.holm([p for p, _ in tests])
        behind = {
            i
            for i, (_, side), p in zip(others, tests, adjusted)
            if paired.outcome(p, side) == paired.HOLDS
        }
        if behind:
            bold |= {i for i in valid.index if i not in behind}
    return bold


def _wide_table(group: pd.DataFrame, n_max: int, notes: _Notes, seeds: pd.DataFrame) -> list[str]:
    metrics, methods = list(dict.fromkeys(group.metric)), list(dict.fromkeys(group.method))
    best = _best(group, ["metric"], seeds)
    arrows = group.drop_duplicates("metric").set_index("metric").direction
    out = [
        "| method | " + " | ".join(m + ARROWS.get(arrows[m], "") for m in metrics) + " |",
        "|---" * (len(metrics) + 1) + "|",
    ]
    for method in methods:
        cells = []
        for metric in metrics:
            row = group[(group.method == method) & (group.metric == metric)]
            cells.append(
                "" if row.empty else _cell(row.iloc[0], n_max, row.index[0] in best, notes)
            )
        out.append(f"| {method} | " + " | ".join(cells) + " |")
    return out


def _long_table(
    sweep: pd.DataFrame, param: str, failed: set, n_max: int, notes: _Notes, seeds: pd.DataFrame
) -> list[str]:
    """One row per method and parameter value; the sweep's status flag as a column."""
    bases = [b for b in dict.fromkeys(sweep.base) if b != STATUS_METRIC]
    flagged = STATUS_METRIC in set(sweep.base) or any(k[0] == param for k in failed)
    best = _best(sweep[sweep.base != STATUS_METRIC], ["base", "value"], seeds)
    arrows = sweep.drop_duplicates("base").set_index("base").direction
    out = [
        f"| method | {param} | "
        + " | ".join(b + ARROWS.get(arrows[b], "") for b in bases)
        + " |"
        + (" status |" if flagged else ""),
        "|---" * (len(bases) + 2 + flagged) + "|",
    ]
    dead = {
        (v, m) for k, v, m in failed if k == param
    }  # points whose trials failed may have no metric at all
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
            line = f"| {method} | {value} | " + " | ".join(cells) + " |"
            if flagged:
                flag = at[at.base == STATUS_METRIC]
                share = flag["mean"].iloc[0] if len(flag) else 0.0
                status = (
                    "failed"
                    if (value, method) in dead
                    else "ok"
                    if not share > 0
                    else "over budget"
                    if share >= 1
                    else f"over budget in {share:.0%} of seeds"
                )
                line += f" {status} |"
            out.append(line)
    return out


def _failed_points(raw: pd.DataFrame, experiment: str) -> set:
    """(parameter, value, method) of failed trials that sit at one point of a sweep."""
    out = set()
    for r in raw[(raw.status != "ok") & (raw.experiment == experiment)].itertuples():
        for k, v in json.loads(r.point or "{}").items():
            out.add((k, str(v), r.method))
    return out


def to_markdown(board: pd.DataFrame, raw: pd.DataFrame) -> str:
    out = [
        "# Leaderboard",
        "",
        "Mean ± half the width of its 95% interval over seeds (Student t; on the logit scale for proportions "
        "such as AUROC and accuracy, whose bounds are in leaderboard.csv), rounded to 2 significant digits "
        "of the half-width "
        "(3 significant digits without one); [n=k] when fewer seeds than the grid's count; **bold**: the best "
        "mean per metric and every method not significantly behind it (paired t over seeds, Holm, α = 0.05), "
        "none when no method is significantly behind the best; (paper: published value, † computed "
        "differently by the authors); n/a: not measured.",
        "",
    ]
    for exp, group in board.groupby("experiment", sort=False):
        first = group.iloc[0]
        out += [
            f"## {exp}",
            "",
            ", ".join(  # what the experiment has: a Hessian-scaling run has no data set or arch
                f"{name} `{value}`"
                for name, value in (
                    ("task", first.task),
                    ("data", first.dataset),
                    ("arch", first.arch),
                )
                if isinstance(value, str) and value
            ),
            "",
        ]
        seeds = raw[(raw.experiment == exp) & (raw.status == "ok") & (raw.metric != "")]
        n_max, notes = seeds.seed.nunique() or group.n_seeds.max(), _Notes()
        parsed = group.metric.str.extract(SWEEP)
        scalar, sweep = group[parsed.base.isna()], group[parsed.base.notna()].join(parsed)
        family = scalar.metric.map(
            lambda m: m.split("/")[0] if "/" in m else ""
        )  # auroc/*, posterior/*, ...
        for _, part in (
            scalar.groupby(family, sort=False) if scalar.metric.nunique() > 8 else [("", scalar)]
        ):
            out += _wide_table(part, n_max, notes, seeds) + [""]
        failed = _failed_points(raw, exp)
        for param, part in sweep.groupby("param", sort=False):
            out += _long_table(part, param, failed, n_max, notes, seeds) + [""]
        if notes:
            out += notes.lines() + [""]
    failed = raw[raw.status != "ok"].drop_duplicates("trial_id")
    if len(failed):
        out += ["## Failed trials", ""]
        out += [f"- `{r.trial_id}`: {r.error}" for r in failed.itertuples()]
        out.append("")
    return "\n".join(out)
