"""Leaderboards from trial records: `raw.csv`, `leaderboard.csv`, `leaderboard.md`.

`raw.csv` has a row per trial, metric and seed with provenance (config hash, model key, git commit,
package versions, device); failed trials appear with `status=failed` and their error. `leaderboard.csv`
aggregates over seeds: mean, std, 95% t-interval, n_seeds, and the paper's published number where there
is one (`harness/paper/reference.csv`, copied from the paper's tables; `paper_note` where the authors
computed it differently). A peak memory of 0 or less means "not measured" (below the measurement floor) and
is left out of the mean. `leaderboard.md` shows a table per experiment, methods as rows, the best mean per
metric in bold with every method not significantly behind it (none when no method is), each number rounded to 2 significant digits of its CI95 half-width; a per-parameter sweep
(`time_s@side=<s>`, `accuracy/n=<n>`) is a long table, a row per method and parameter value, numerically
sorted, over-budget and failed points marked. `write_leaderboards(run_dir)` rebuilds all three from
`trials/*.json` (`python -m harness report DIR`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

import harness.report.paired as paired
from harness.report.claims import reference
from harness.report.numbers import ci95_half, fmt_ci
from harness.report.search_table import search_markdown, search_rows
from harness.store.records import current_hashes, read_records
from tasks.base import Task

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
]
SWEEP = re.compile(
    r"^(?P<base>.+?)[@/](?P<param>[A-Za-z_]\w*)=(?P<value>[^/@=]+)$"
)  # time_s@side=8, accuracy/n=1
NOT_MEASURED = re.compile(r"^peak_mem")  # a peak memory <= 0 was below the measurement floor
STATUS_METRIC = "over_budget"  # a sweep's 0/1 flag, shown as the point's status
ARROWS = {"max": " ↑", "min": " ↓"}


def paper_reference() -> pd.DataFrame:
    """The published numbers of the registered papers (`harness.report.claims`), for the `paper` columns."""
    return reference().drop(columns="paper")


def collect_raw(run_dir: Path, current: dict | None = None) -> pd.DataFrame:
    """A row per trial and metric from the grid's trial records (`harness.store.records`), only those of its
    current plan: every column comes from the record itself."""
    current = current_hashes(run_dir) if current is None else current
    rows = []
    for rec in read_records(run_dir):
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
        if not rec.ok or not rec.metrics:
            rows.append({**base, "metric": "", "value": np.nan})
        for m in rec.metrics:
            value = m["value"]
            rows.append(
                {**base, "metric": m["metric"], "value": np.nan if value is None else float(value)}
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
        try:
            direction = get_task(key[1]).direction(key[5])
        except ValueError:
            direction = None
        rows.append(
            dict(
                zip(keys, key),
                mean=mean,
                std=std,
                ci95_low=mean - half,
                ci95_high=mean + half,
                n_seeds=n,
                direction=direction,
                stale=bool(group.get("stale", pd.Series(False)).any()),
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
    return board[BOARD_COLUMNS]


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
            run_dir / "artifacts" / experiment if run_dir is not None else None
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
                }
            )
    return rows


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
    cell = fmt_ci(r["mean"], r.ci95_high - r["mean"])
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
        "Mean ± CI95 half-width over seeds (Student t), rounded to 2 significant digits of the half-width "
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
            f"task `{first.task}`, data `{first.dataset}`, arch `{first.arch}`",
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


def write_leaderboards(run_dir: str | Path) -> pd.DataFrame:
    run_dir = Path(run_dir)
    if not (run_dir / "trials").is_dir() or not any((run_dir / "trials").glob("*.json")):
        raise FileNotFoundError(
            f"No trial records under {run_dir / 'trials'}: pass the folder of one grid's "
            f"results, e.g. results/demo."
        )
    current = current_hashes(run_dir)
    raw = collect_raw(run_dir, current)
    raw.to_csv(run_dir / "raw.csv", index=False)
    board = aggregate(raw, run_dir)
    board.to_csv(run_dir / "leaderboard.csv", index=False)
    searches = search_rows(run_dir, current)
    if not searches.empty:
        searches.to_csv(run_dir / "searches.csv", index=False)
    (run_dir / "leaderboard.md").write_text(to_markdown(board, raw) + search_markdown(searches))
    return board
