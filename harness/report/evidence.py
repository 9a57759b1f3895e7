"""One experiment's evidence for a claim: leaderboard rows, per-seed raw rows, the grid's method entries, the
paper's rows, and per-input OOD scores (from the trial artifacts, or packed).

`read_table(path)` reads a per-input table (`.csv` or packed `.csv.gz`); a damaged one raises `DamagedFileError`
naming the file. `Evidence.scores` names a damaged scores table in one line and goes on without it (its paired
tests fall back to per-seed AUROCs)."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from harness.store.files import DamagedFileError
from harness.store.pack import artifact
from harness.store.records import artifacts_dir

CONVENTIONS = {
    "": "our scores",
    "authors/": "the authors' scores",
}  # metric-name infix -> convention


@dataclass
class Evidence:
    """One experiment's numbers: leaderboard rows, ok raw rows (per seed), methods as the grid wrote them."""

    experiment: str
    dataset: str
    board: pd.DataFrame
    raw: pd.DataFrame
    methods: dict[str, dict] = field(default_factory=dict)  # label -> {"method": key, params...}
    reference: pd.DataFrame = None  # the paper's rows for this task (harness/paper/reference.csv)
    run_dir: Path | None = (
        None  # the grid's results folder: artifacts/<experiment>/<label>/seed<s>/
    )
    score_tables: dict = field(
        default_factory=dict
    )  # (label, seed) -> per-input table (tests, simulations)
    run_labels: tuple = ()  # every method label of the run, in its order: one colour per label in a report
    # every experiment's ok rows of the run: for a figure that draws a sibling experiment (snapshots)
    run_raw: pd.DataFrame | None = None

    def key(self, label: str) -> str:
        return (self.methods.get(label) or {}).get("method", label)

    def labels(self, key: str | None = None) -> list[str]:
        """Method labels with results, those of method `key` only when given (the label == key first)."""
        labels = list(dict.fromkeys(self.board.method))
        return (
            labels
            if key is None
            else sorted((x for x in labels if self.key(x) == key), key=lambda x: x != key)
        )

    def mean(self, label: str, metric: str) -> float:
        row = self.board[(self.board.method == label) & (self.board.metric == metric)]
        return float(row["mean"].iloc[0]) if len(row) else math.nan

    def has(self, metric: str) -> bool:
        return bool((self.board.metric == metric).any())

    def per_seed(self, metric: str) -> pd.DataFrame:
        """seed x label table of `metric`."""
        rows = self.raw[self.raw.metric == metric]
        return rows.pivot_table(index="seed", columns="method", values="value", aggfunc="mean")

    def seed_values(self, label: str, metric: str) -> dict[int, float]:
        table = self.per_seed(metric)
        if label not in table:
            return {}
        return {int(s): float(v) for s, v in table[label].dropna().items()}

    def seeds(self, label: str) -> list[int]:
        return sorted({int(s) for s in self.raw[self.raw.method == label].seed.dropna()})

    def scores(self, label: str, seed: int) -> pd.DataFrame | None:
        """The per-input table an OOD trial wrote (`scores.csv`, or `scores.csv.gz` in a packed report)."""
        if (label, seed) not in self.score_tables:
            table = None
            if self.run_dir is not None:
                path = artifact(
                    artifacts_dir(self.run_dir, self.experiment, label, f"seed{seed}"),
                    "scores.csv",
                )
                table = None if path is None else _scores_table(path)
            self.score_tables[(label, seed)] = table
        return self.score_tables[(label, seed)]

    def code(self) -> dict[str, list[str]]:
        """label -> the distinct method-code fingerprints behind its numbers ('task' -> the task's)."""
        out: dict[str, list[str]] = {}
        if "method_code" not in self.raw:
            return out
        rows = self.raw.drop_duplicates("trial_id")
        for label, group in rows.groupby("method", sort=False):
            out[label] = sorted({c for c in group.method_code.fillna("") if c})
        out["task"] = sorted({c for c in rows.task_code.fillna("") if c})
        return out

    def stale(self) -> list[str]:
        """Labels with numbers from models kept by `--reuse-stale` (code changed since they were trained)."""
        if "stale" not in self.raw:
            return []
        rows = self.raw[self.raw.stale.astype("boolean").fillna(False).astype(bool)]
        return sorted(set(rows.method))

    def paper(self, label: str, metric: str) -> dict | None:
        """The paper's row for a method label (else its key, else "*") and metric (else without `authors/`)."""
        ref = self.reference
        if ref is None or ref.empty:
            return None
        for method in (label, self.key(label), "*"):
            for name in dict.fromkeys((metric, metric.replace("authors/", ""))):
                rows = ref[(ref.method == method) & (ref.metric == name)]
                if len(rows):
                    rows = rows.sort_values("dataset", key=lambda d: d != self.dataset)
                    return rows.iloc[0].to_dict()
        return None

    def paper_value(self, label: str, metric: str) -> float:
        row = self.paper(label, metric)
        return float(row["value"]) if row is not None and np.isfinite(row["value"]) else math.nan

    def note(self, label: str, metric: str) -> str:
        row = self.paper(label, metric)
        return str(row.get("note") or "") if row else ""


def read_table(path: Path, what: str = "per-input table") -> pd.DataFrame:
    """The CSV table at `path` (gzip-compressed when it ends in `.gz`); DamagedFileError naming the file when it
    cannot be read (not gzip, truncated, not text, not CSV)."""
    try:
        return pd.read_csv(path)
    except FileNotFoundError:
        raise
    except (OSError, EOFError, UnicodeDecodeError, ValueError, zlib.error) as exc:
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:160]
        raise DamagedFileError(f"{path}: damaged {what} ({detail})") from None


def _scores_table(path: Path) -> pd.DataFrame | None:
    """An OOD trial's per-input scores, or None (the file named in one line) when damaged."""
    try:
        table = read_table(path, "per-input scores table")
        if "is_ood" not in table:
            raise DamagedFileError(f"{path}: damaged per-input scores table (no is_ood column)")
        return table
    except DamagedFileError as exc:
        print(
            f"[report] {exc}: left out; its paired tests use per-seed AUROCs instead (rerun its trial "
            f"or pack it again to restore it)"
        )
        return None


def conventions(ev: Evidence, template: str) -> list[str]:
    """Metric-name infixes of the scoring conventions present, e.g. template "auroc/{}sigma2_output"."""
    return [c for c in CONVENTIONS if ev.has(template.format(c))]
