"""The reproduction report: `python -m harness report DIR --paper` writes DIR/reproduction.md and .html.

DIR is one grid's results folder. The leaderboards are rebuilt first (`harness.report.leaderboard`); then every
claim of `laebench_paper.claims.CLAIMS` is judged on each experiment that measures it (or marked "not run") and
drawn (`laebench_paper.figures`, PNGs under DIR/figures/). The header gives the command, the commits the trials ran
at and the report's own, the date, package versions and devices (provenance of every trial is in raw.csv).
A claim's table of parts and tests: `harness.report.parts_table`; the HTML page: `harness.report.html`; the same
verdicts and tests as a table (DIR/verdicts.csv): `harness.report.verdicts_table`.
Public: `build_outcomes(run_dir)`, `write_report(run_dir, command)`.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

import harness.report.markdown as md
from harness.report.claims import departure, papers, reference
from harness.report.evidence import Evidence
from harness.report.html import slug, to_html
from harness.report.leaderboard import collect_raw, write_leaderboards
from harness.report.leaderboard_md import GLOSSARY_LINK
from harness.report.numbers import fmt_ci
from harness.report.paired import MARGIN
from harness.report.parts_table import parts_table
from harness.report.search_table import search_markdown, search_rows
from harness.report.verdicts import Outcome, evaluate
from harness.report.verdicts_table import write_verdicts
from harness.store.provenance import git_commit
from harness.store.records import current_hashes

RULES = (
    "How a verdict is decided: each part of a claim is a test of a difference, paired on the same test inputs "
    "and seeds (AUROC: DeLong over the test inputs every seed shares plus the spread of the seeds, the "
    "Obuchowski-Rockette variance, t with seeds - 1 degrees of freedom; per-seed numbers: paired t over seeds). "
    "Every test of a claim is Holm-corrected (α = 0.05). A part **holds** when its difference is significant in "
    "the paper's direction, is **contradicted** when significant the other way, is **equivalent** when two "
    "one-sided tests place it within ±"
    + str(MARGIN)
    + " (one unit of the paper's last printed digit), and is "
    "**inconclusive** otherwise. A claim is **reproduced** when every part holds (or ties where the claim allows "
    "a tie), **not reproduced** when a part is contradicted or ties where the paper has a gap, **inconclusive** "
    "otherwise; **not comparable** when the authors computed a number the rule uses differently, **other "
    "setting** when the experiment uses other data than the claim, **not run** when no experiment measures it. "
    "An inconclusive test shows the seeds (at its test size) that would detect the paper's published gap with "
    "80% power."
)


def build_outcomes(
    run_dir: Path, board: pd.DataFrame, raw: pd.DataFrame
) -> list[tuple[Outcome, list[Path]]]:
    """Every claim judged on each experiment that measures it, with the paths of its figures."""
    ref = reference()
    ok = raw[(raw.status == "ok") & raw.metric.notna() & (raw.metric != "")]
    out = []
    for claim in [c for paper in papers() for c in paper.claims]:
        pattern = re.compile(claim.metrics)
        experiments = [
            e
            for e, g in board[board.task == claim.task].groupby("experiment", sort=False)
            if any(pattern.fullmatch(m) for m in g.metric)
        ]
        for exp in experiments or [None]:
            if exp is None:
                out.append((evaluate(claim, None), []))
                continue
            rows = board[board.experiment == exp]
            ev = Evidence(
                exp,
                str(rows.dataset.iloc[0]),
                rows,
                ok[ok.experiment == exp],
                _methods(raw[raw.experiment == exp]),
                ref[ref.task == claim.task],
                run_dir,
                run_labels=tuple(dict.fromkeys(board.method)),
                run_raw=ok,
            )
            figures = []
            for draw in claim.figures:
                try:
                    figures.append((draw(ev, run_dir), getattr(draw, "caption", "")))
                except Exception as exc:  # a figure is an extra; the verdict stands on the numbers
                    print(
                        f"[report] figure {draw.__name__} of {exp} skipped: {type(exc).__name__}: {exc}"
                    )
            out.append((evaluate(claim, ev), [(p, c) for p, c in figures if p is not None]))
    return out


def _methods(raw: pd.DataFrame) -> dict[str, dict]:
    """label -> {"method": key, **params}, from the trial records' own description."""
    first = raw.drop_duplicates("method")
    return {
        row.method: {
            "method": row.method_key or row.method,
            **(
                json.loads(row.method_params)
                if isinstance(row.method_params, str) and row.method_params
                else {}
            ),
        }
        for row in first.itertuples()
    }


def _cell(ev: Evidence, label: str, metric: str, notes: dict) -> str:
    row = ev.board[(ev.board.method == label) & (ev.board.metric == metric)]
    cell = ""
    if len(row):
        r = row.iloc[0]
        summary = (
            not np.isfinite(r["std"]) and r.n_seeds > 1
        )  # a cross-trial fit (Task.summarize): n = its points
        cell = fmt_ci(r["mean"], (r.ci95_high - r.ci95_low) / 2)
        cell += (
            ""
            if not np.isfinite(r["mean"])
            else f", fit on {r.n_seeds} points"
            if summary
            else f", n={r.n_seeds}"
        )
    paper = ev.paper(label, metric)
    if paper is not None and np.isfinite(paper["value"]):
        std = f" ± {paper['std']:g}" if np.isfinite(paper.get("std", np.nan)) else ""
        note = str(paper.get("note") or "")
        mark = notes.setdefault(note, "†" * (len(notes) + 1)) if note else ""
        cell += f" (paper {paper['value']:g}{std}{mark})"
    return cell


def _departure(ev: Evidence, label: str) -> str:
    why = departure(ev, label)
    return f" (departure: {why})" if why else ""


def _heading(outcome: Outcome) -> str:
    where = f" — `{outcome.evidence.experiment}`" if outcome.evidence else ""
    return f"{outcome.claim.source}: {outcome.claim.title}{where}"


def _section(outcome: Outcome, figures: list[tuple[Path, str]], run_dir: Path) -> list[str]:
    """A claim's section of the report: its verdict, the paper's statement and rule, our setting, the table of
    parts and tests, the numbers per method and the figures (each `(path, caption)`)."""
    claim, ev, j = outcome.claim, outcome.evidence, outcome.judgement
    out = [
        f"## {_heading(outcome)}",
        "",
        f"**Verdict: {outcome.verdict}** — {outcome.reason}",
        "",
        f"- Paper ({claim.source}): {claim.paper}",
        f"- Rule: {claim.rule}",
    ]
    if ev is None:
        return out + ["", "No figure: not run.", ""]
    out += _setting_lines(outcome)
    out += ["", *parts_table(j)]
    if j.rows and j.columns:
        out += _numbers_table(ev, j.rows, j.columns)
    out += ["", *claim.notes(ev)] if claim.notes(ev) else []
    out.append("")
    out += _figure_lines(figures, run_dir)
    return out + [""]


def _setting_lines(outcome: Outcome) -> list[str]:
    """The bullets on our side of a measured claim: data and seeds, the code's fingerprints, and whether the
    setting differs from the paper's."""
    claim, ev = outcome.claim, outcome.evidence
    seeds = sorted(ev.raw.seed.dropna().unique().astype(int))
    data = f"data `{ev.dataset}`" if ev.dataset else "no data set"
    out = [
        f"- Ours: {data}, seeds {', '.join(map(str, seeds))}; cells are mean ± half the 95% interval's "
        f"width over seeds (Student t; logit scale for proportions), n seeds"
    ]
    code = ev.code()
    if code:
        out.append(_code_line(code))
    if claim.dataset and ev.dataset != claim.dataset:
        out.append(
            f"- Setting differs from the paper's (`{claim.dataset}`): the rule is applied to our data; the "
            f"paper's numbers are shown for reference, not as targets"
        )
    return out


def _code_line(code: dict[str, list[str]]) -> str:
    """The fingerprints of the task's and each method's code (`Evidence.code()`), warning of mixed versions."""
    methods = ", ".join(
        f"{label} `{' / '.join(c) or 'unrecorded'}`" for label, c in code.items() if label != "task"
    )
    return (
        f"- Code (fingerprints, `laebench.fingerprint`): task `{' / '.join(code.get('task', [])) or 'unrecorded'}`;"
        f" methods: {methods}"
        + (
            " — ⚠ a method with two fingerprints mixes code versions"
            if any(len(c) > 1 for label, c in code.items() if label != "task")
            else ""
        )
    )


def _numbers_table(ev: Evidence, rows: list[str], columns: list[str]) -> list[str]:
    """Our number (and the paper's) per method row and metric column, then the footnotes on metrics the
    authors computed differently."""
    notes: dict[str, str] = {}
    out = ["", md.row("method", *(f"`{c}`" for c in columns)), md.rule(len(columns) + 1)]
    out += [
        md.row(f"{label}{_departure(ev, label)}", *(_cell(ev, label, c, notes) for c in columns))
        for label in rows
    ]
    return out + [
        f"\n{mark} computed differently by the authors: {note}" for note, mark in notes.items()
    ]


def _figure_lines(figures: list[tuple[Path, str]], run_dir: Path) -> list[str]:
    """Each figure as an image line and its caption, or a line saying there is none."""
    out = []
    for path, caption in figures:  # the caption line is the figure's <figcaption> in the HTML page
        out += [
            f"![{path.stem}]({path.relative_to(run_dir).as_posix()})",
            f"*Figure: {caption}*",
            "",
        ]
    return out + ([] if figures else ["No figure: no artifacts."])


def _stats_versions() -> str:
    """The libraries the verdicts' tests run on, as installed where the report is written."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("scipy", "statsmodels", "numpy", "pandas"):
        try:
            found.append(f"`{name}={version(name)}`")
        except PackageNotFoundError:
            found.append(f"`{name}` (not installed)")
    return ", ".join(found)


def to_markdown(
    outcomes: list[tuple[Outcome, list[Path]]], raw: pd.DataFrame, run_dir: Path, command: str
) -> str:
    def listed(col):
        values = sorted({str(v) for v in raw[col].dropna() if str(v)})
        return ", ".join(f"`{v}`" for v in values) or "n/a"

    out = [
        f"# Reproduction report: {run_dir.name}",
        "",
        f"- Command: `{command}`",
        f"- Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; report code at commit `{git_commit()}`",
        f"- Trials ran at commit(s): {listed('git_commit')}",
        f"- Packages: {listed('versions')}",
        f"- Verdicts computed here with {_stats_versions()}",
        f"- Device(s): {listed('device')}; seeds: {listed('seed')}",
        "- Per-trial provenance: `raw.csv`; all numbers: `leaderboard.md`; what each metric name means: "
        + GLOSSARY_LINK,
        "",
        RULES,
        "",
        "## Summary",
        "",
        "| claim | experiment | verdict | measured |",
        "|---|---|---|---|",
    ]
    for o, _ in outcomes:
        exp = f"`{o.evidence.experiment}`" if o.evidence else ""
        claim = f"[{o.claim.source}: {o.claim.title}](#{slug(_heading(o))})"
        out.append(md.row(claim, exp, f"**{o.verdict}**", o.reason))
    out.append("")
    for o, figures in outcomes:
        out += _section(o, figures, run_dir)
    return "\n".join(out)


def write_report(run_dir: str | Path, command: str | None = None) -> Path:
    """Rebuild the leaderboards, judge every claim, draw its figures; write reproduction.md, .html, verdicts.csv."""
    run_dir = Path(run_dir)
    board = write_leaderboards(run_dir)
    raw = collect_raw(run_dir)
    outcomes = build_outcomes(run_dir, board, raw)
    text = to_markdown(
        outcomes, raw, run_dir, command or f"python -m harness report {run_dir} --paper"
    )
    text += search_markdown(
        search_rows(run_dir, current_hashes(run_dir))
    )  # tuned methods: what was chosen
    write_verdicts(run_dir, [o for o, _ in outcomes])
    path = run_dir / "reproduction.md"
    path.write_text(text)
    path.with_suffix(".html").write_text(to_html(text, f"Reproduction report: {run_dir.name}"))
    return path
