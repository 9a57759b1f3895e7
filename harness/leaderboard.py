"""Leaderboards from trial records: `raw.csv`, `leaderboard.csv`, `leaderboard.md`.

`raw.csv` has a row per trial, metric and seed with provenance (config hash, model key, git commit,
package versions, device); failed trials appear with `status=failed` and their error. `leaderboard.csv`
aggregates over seeds: mean, std, 95% t-interval, n_seeds, and the paper's published number where there
is one (`harness/paper/reference.csv`, copied from the paper's tables). `leaderboard.md` shows a table
per experiment, methods as rows, the best mean per metric in bold. `write_leaderboards(run_dir)`
rebuilds all three from `trials/*.json` (`python -m harness report DIR`).
"""
from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from tasks.base import Task

RAW_COLUMNS = ["experiment", "task", "dataset", "arch", "method", "method_key", "seed", "point", "metric", "value",
               "status", "error", "config_hash", "model_key", "git_commit", "versions", "device", "host",
               "node", "wall_time_s", "trial_id"]
BOARD_COLUMNS = ["experiment", "task", "dataset", "arch", "method", "metric", "mean", "std", "ci95_low", "ci95_high",
                 "n_seeds", "paper", "paper_std", "direction"]


def paper_reference() -> pd.DataFrame:
    return pd.read_csv(files("harness") / "paper" / "reference.csv")


def _grid_experiments(run_dir: Path | None) -> dict[str, dict]:
    """The grid's experiments as written (`grid.json`), by name."""
    path = (run_dir or Path(".")) / "grid.json"
    grid = json.loads(path.read_text()) if path.exists() else {}
    return {e.get("name"): e for e in grid.get("experiments", []) if isinstance(e, dict)}


def collect_raw(run_dir: Path) -> pd.DataFrame:
    exps = _grid_experiments(run_dir)
    current = json.loads((run_dir / "plan.json").read_text()) if (run_dir / "plan.json").exists() else None
    rows = []
    for path in sorted((run_dir / "trials").glob("*.json")):
        rec = json.loads(path.read_text())
        if current is not None and current.get(rec["trial_id"]) != rec.get("config_hash"):
            continue  # a trial of an earlier version of the grid
        exp = exps.get(rec["experiment"], {})
        train = (exp.get("data") or {}).get("train")
        dataset = train if isinstance(train, str) else (train or {}).get("name", "")
        methods = exp.get("methods") or {}
        method_key = (methods.get(rec["label"]) or {}).get("method", rec["label"]) if rec["label"] in methods else ""
        base = {"experiment": rec["experiment"], "task": rec["task"], "dataset": dataset,
                "arch": (exp.get("model") or {}).get("arch", ""), "method": rec["label"], "method_key": method_key,
                "seed": rec["seed"], "point": json.dumps(rec.get("point") or {}, sort_keys=True),
                "status": rec["status"], "error": rec.get("error", ""), "config_hash": rec.get("config_hash", ""),
                "model_key": rec.get("model_key") or "", "git_commit": rec.get("git_commit", ""),
                "versions": rec.get("versions", ""), "device": rec.get("device", ""), "host": rec.get("host", ""),
                "node": rec.get("node", ""), "wall_time_s": rec.get("wall_time_s"), "trial_id": rec["trial_id"]}
        if rec["status"] != "ok" or not rec["metrics"]:
            rows.append({**base, "metric": "", "value": np.nan})
        for m in rec["metrics"]:
            value = m["value"]
            rows.append({**base, "metric": m["metric"], "value": np.nan if value is None else float(value)})
    return pd.DataFrame(rows, columns=RAW_COLUMNS)


def aggregate(raw: pd.DataFrame, run_dir: Path | None = None) -> pd.DataFrame:
    from tasks import get as get_task

    ok = raw[(raw.status == "ok") & (raw.metric != "")]
    keys = ["experiment", "task", "dataset", "arch", "method", "metric"]
    rows = []
    for key, group in ok.groupby(keys, sort=False, dropna=False):
        values = group.value.dropna().to_numpy(dtype=float)
        n = len(values)
        mean = values.mean() if n else np.nan
        std = values.std(ddof=1) if n > 1 else np.nan
        half = stats.t.ppf(0.975, n - 1) * std / np.sqrt(n) if n > 1 else np.nan
        try:
            direction = get_task(key[1]).direction(key[5])
        except ValueError:
            direction = None
        rows.append(dict(zip(keys, key), mean=mean, std=std, ci95_low=mean - half, ci95_high=mean + half,
                         n_seeds=n, direction=direction))
    rows += _summaries(raw, keys, run_dir)
    board = pd.DataFrame(rows, columns=[c for c in BOARD_COLUMNS if c not in ("paper", "paper_std")])
    ref = paper_reference().rename(columns={"value": "paper", "std": "paper_std"})
    cols = ["task", "dataset", "method", "metric", "paper", "paper_std"]
    exact = board.merge(ref[ref.method != "*"][cols], on=cols[:4], how="left")
    # method "*": a number that holds for every method's row (the paper's classifier-on-masked-input row)
    anyone = board.merge(ref[ref.method == "*"][cols].drop(columns="method"), on=["task", "dataset", "metric"],
                         how="left")
    board = exact.fillna({"paper": anyone["paper"], "paper_std": anyone["paper_std"]})
    return board[BOARD_COLUMNS]


def _summaries(raw: pd.DataFrame, keys: list[str], run_dir: Path | None = None) -> list[dict]:
    """Cross-trial rows from each experiment's task (`Task.summarize`), e.g. log-log scaling slopes."""
    from tasks import get as get_task

    rows = []
    experiments = _grid_experiments(run_dir)
    ok = raw[(raw.status == "ok") & (raw.metric != "")]
    for (experiment, task_key), group in ok.groupby(["experiment", "task"], sort=False):
        try:
            task_cls = get_task(task_key)
        except ValueError:
            continue
        if task_cls.summarize is Task.summarize:
            continue
        first = group.iloc[0]
        artifact_dir = (run_dir or Path(".")) / "artifacts" / experiment
        params = experiments.get(experiment, {}).get("task_params") or {}
        for r in task_cls(params).summarize(group, artifact_dir):
            rows.append({**dict(zip(keys, [experiment, task_key, first.dataset, first.arch, r["method"], r["metric"]])),
                         "mean": r["value"], "std": np.nan, "ci95_low": np.nan, "ci95_high": np.nan,
                         "n_seeds": r.get("n", 1), "direction": task_cls.direction(r["metric"])})
    return rows


def _fmt(x: float) -> str:
    if not np.isfinite(x):
        return ""
    return f"{x:.4g}" if abs(x) < 1e4 else f"{x:.3e}"


def to_markdown(board: pd.DataFrame, raw: pd.DataFrame) -> str:
    out = ["# Leaderboard", "",
           "Mean ± std over seeds (n in brackets when below the grid's count); **bold**: best per metric; "
           "(paper: published value).", ""]
    for exp, group in board.groupby("experiment", sort=False):
        first = group.iloc[0]
        out += [f"## {exp}", "", f"task `{first.task}`, data `{first.dataset}`, arch `{first.arch}`", ""]
        metrics = list(dict.fromkeys(group.metric))
        methods = list(dict.fromkeys(group.method))
        best = {}
        for metric in metrics:
            rows = group[group.metric == metric]
            d = rows.direction.iloc[0]
            if d in ("max", "min") and rows["mean"].notna().any():
                best[metric] = rows.loc[rows["mean"].idxmax() if d == "max" else rows["mean"].idxmin(), "method"]
        n_max = group.n_seeds.max()
        out.append("| method | " + " | ".join(f"{m} {'↑' if group[group.metric == m].direction.iloc[0] == 'max' else '↓' if group[group.metric == m].direction.iloc[0] == 'min' else ''}".strip() for m in metrics) + " |")
        out.append("|---" * (len(metrics) + 1) + "|")
        for method in methods:
            cells = []
            for metric in metrics:
                row = group[(group.method == method) & (group.metric == metric)]
                if row.empty or not np.isfinite(row["mean"].iloc[0]):
                    cells.append("")
                    continue
                r = row.iloc[0]
                cell = _fmt(r["mean"]) + (f" ± {_fmt(r['std'])}" if np.isfinite(r["std"]) else "")
                if r.n_seeds < n_max:
                    cell += f" [n={r.n_seeds}]"
                if best.get(metric) == method:
                    cell = f"**{cell}**"
                if np.isfinite(r.paper):
                    cell += f" (paper {_fmt(r.paper)})"
                cells.append(cell)
            out.append(f"| {method} | " + " | ".join(cells) + " |")
        out.append("")
    failed = raw[raw.status != "ok"].drop_duplicates("trial_id")
    if len(failed):
        out += ["## Failed trials", ""]
        out += [f"- `{r.trial_id}`: {r.error}" for r in failed.itertuples()]
        out.append("")
    return "\n".join(out)


def write_leaderboards(run_dir: str | Path) -> pd.DataFrame:
    run_dir = Path(run_dir)
    if not (run_dir / "trials").is_dir():
        raise FileNotFoundError(f"No trial records under {run_dir / 'trials'}: pass the folder of one grid's "
                                f"results, e.g. results/demo.")
    raw = collect_raw(run_dir)
    raw.to_csv(run_dir / "raw.csv", index=False)
    board = aggregate(raw, run_dir)
    board.to_csv(run_dir / "leaderboard.csv", index=False)
    (run_dir / "leaderboard.md").write_text(to_markdown(board, raw))
    return board
