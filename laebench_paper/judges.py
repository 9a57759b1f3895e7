"""The paper's verdict rules as code: one judge per claim, from an experiment's evidence to the parts of the
claim and their tests (`harness.report.verdicts.Judgement`)."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

import harness.report.paired as paired
from harness.report.evidence import CONVENTIONS, Evidence, conventions
from harness.report.paired import MARGIN, Estimate, Region
from harness.report.verdicts import Comparison, Judgement, Part
from laebench_paper.estimates import auroc_difference, auroc_level, best_part, paper_methods


def _hessian(ev: Evidence, label: str) -> str:
    import methods

    try:
        default = methods.get(ev.key(label)).default_params.get("hessian", "?")
    except ValueError:
        default = "?"
    return str((ev.methods.get(label) or {}).get("hessian", default))


def judge_table2(ev: Evidence) -> Judgement:
    online, posthoc = ev.labels("lae_online"), ev.labels("lae_posthoc")
    nlp = ev.per_seed("neg_log_px").reindex(columns=online + posthoc)
    mse = ev.per_seed("mse").reindex(columns=online + posthoc)
    parts, used = [], []
    for label in online:
        ratio = np.log(nlp[label] / mse[label]).dropna()
        paper = math.log(ev.paper_value(label, "neg_log_px") / ev.paper_value(label, "mse"))
        parts.append(
            Part(
                f"online ({_hessian(ev, label)}): -log p(x) below 1.1 x the MSE",
                [
                    Comparison(
                        f"{label}: log(-log p(x) / MSE)",
                        paired.seed_level(ratio.to_dict()),
                        Region(hi=math.log(1.1)),
                        paper,
                    )
                ],
            )
        )
        used += [(label, "neg_log_px"), (label, "mse")]
    worst_online = nlp[online].max(axis=1) if online else pd.Series(dtype=float)
    best_paper_online = min((ev.paper_value(x, "neg_log_px") for x in online), default=math.nan)
    for label in posthoc:
        ratio = np.log(nlp[label] / worst_online).dropna()
        paper = math.log(ev.paper_value(label, "neg_log_px") / best_paper_online)
        parts.append(
            Part(
                f"post-hoc ({_hessian(ev, label)}): -log p(x) above 2 x the worst online one of its seed",
                [
                    Comparison(
                        f"{label}: log(-log p(x) / worst online -log p(x))",
                        paired.seed_level(ratio.to_dict()),
                        Region(lo=math.log(2)),
                        paper,
                    )
                ]
                if len(ratio)
                else [],
                "" if len(ratio) else f"{label}: no online run to compare with",
            )
        )
        used.append((label, "neg_log_px"))
    if not online or not posthoc:
        parts.append(
            Part(
                "both online and post-hoc Laplace were run",
                measured=f"no {'lae_online' if not online else 'lae_posthoc'} method in `{ev.experiment}`",
            )
        )
    return Judgement(parts, posthoc + online, ["neg_log_px", "mse"], used)


def judge_table3(ev: Evidence) -> Judgement:
    from tasks.ood import SCORES

    parts, used, columns = [], [], []
    for c in conventions(ev, "auroc/{}log_px") or [""]:
        name, metric = CONVENTIONS[c], f"auroc/{c}sigma2_output"
        part, u = best_part(
            ev,
            "lae_online",
            metric,
            "max",
            paper_methods(ev),
            f"{name}: LAE online has the highest sigma2_output AUROC (better than each other method)",
            estimate=lambda a, b, m=metric: auroc_difference(ev, a, b, m),
        )
        mc = ev.labels("mc_ae")
        inverted = Part(
            f"{name}: MC-AE inverted (sigma2_output AUROC below 0.5: more variance in-distribution)",
            [
                Comparison(
                    f"{mc[0]}: `{metric}`",
                    auroc_level(ev, mc[0], metric),
                    Region(hi=0.5),
                    ev.paper_value(mc[0], metric),
                )
            ]
            if mc and ev.seed_values(mc[0], metric)
            else [],
            "" if mc else "no mc_ae method",
        )
        parts += [part, inverted]
        used += u + ([(mc[0], metric)] if mc else [])
        columns += [f"auroc/{c}{s}" for s in SCORES if ev.has(f"auroc/{c}{s}")]
        columns += [
            m
            for m in (f"auroc_inkmatched/{c}sigma2_output", f"auroc_inkmatched/{c}sigma2_latent")
            if ev.has(m)
        ]  # detection beyond brightness (ink-matched pairs)
    return Judgement(parts, ev.labels(), columns, used)


def judge_imputation(ev: Evidence) -> Judgement:
    import methods

    def stochastic(label):
        try:
            return methods.get(ev.key(label)).stochastic
        except ValueError:
            return True

    among = [x for x in paper_methods(ev) if stochastic(x)]
    parts, used, columns = [], [], []
    for c in conventions(ev, "{}ece"):
        for m in ("ece", "mce", "rmsce"):
            part, u = best_part(
                ev,
                "lae_online",
                f"{c}{m}",
                "min",
                among,
                f"{CONVENTIONS[c]}: LAE online's "
                f"{m.upper()} lowest or tied (within {MARGIN}) among stochastic methods",
                margin=MARGIN,
            )
            parts.append(part)
            used += u
        columns += [
            f"{c}{m}"
            for m in ("mse", "log_px", "accuracy", "ece", "mce", "rmsce")
            if ev.has(f"{c}{m}")
        ]
    return Judgement(parts, among, columns, used)


def judge_fig12(ev: Evidence) -> Judgement:
    ns = sorted(
        int(m.split("=")[1]) for m in set(ev.board.metric) if re.fullmatch(r"accuracy/n=\d+", m)
    )
    claim_ns = [n for n in ns if n <= 20]
    parts, used, lae = [], [], ev.labels("lae_online")
    for rival_key in ("ae", "vae"):
        rival = ev.labels(rival_key)
        text = f"LAE online's accuracy above {rival_key.upper()}'s at every label count 1-20"
        if not lae or not rival or not claim_ns:
            parts.append(
                Part(
                    text,
                    measured=f"no {'lae_online' if not lae else rival_key} method or no n <= 20",
                )
            )
            continue
        comparisons = [
            Comparison(
                f"{lae[0]} − {rival[0]}, `accuracy/n={n}`",
                paired.seed_difference(
                    ev.seed_values(lae[0], f"accuracy/n={n}"),
                    ev.seed_values(rival[0], f"accuracy/n={n}"),
                ),
                paired.ABOVE_ZERO,
            )
            for n in claim_ns
        ]
        parts.append(Part(text, comparisons))
        used += [(x, f"accuracy/n={n}") for x in (lae[0], rival[0]) for n in claim_ns]
    return Judgement(parts, ev.labels(), [f"accuracy/n={n}" for n in ns], used)


def judge_table4(ev: Evidence) -> Judgement:
    ref = ev.reference if ev.reference is not None else pd.DataFrame(columns=["metric"])
    published = [m for m in dict.fromkeys(ref.metric) if m.startswith("accuracy/") and "=" not in m]
    columns = [m for m in published if ev.has(m)] or sorted(
        m for m in set(ev.board.metric) if re.fullmatch(r"accuracy/(?!n=).+", m)
    )
    parts, used = [], []
    for m in columns:
        part, u = best_part(
            ev,
            "lae_online",
            m,
            "max",
            paper_methods(ev),
            f"LAE online's `{m}` highest or tied (within {MARGIN})",
            margin=MARGIN,
        )
        parts.append(part)
        used += u
    return Judgement(parts, ev.labels(), columns, used)


def _slope(ev: Evidence, mode: str, kind: str) -> Estimate:
    """The log-log slope of `kind` (time_s | peak_mem_mb) against pixels for `mode`, over the task's fit sides
    (from `fit_min_side`, where `mode`'s calls take at least `fit_min_time`)."""
    import json

    rows = ev.raw[(ev.raw.method == mode) & ev.raw.metric.str.startswith(f"{kind}@side=")]
    if rows.empty:
        return paired.slope([], [])
    params = (
        json.loads(rows.task_params.iloc[0]) if isinstance(rows.task_params.iloc[0], str) else {}
    )
    sides = rows.metric.str.split("=").str[1].astype(int)
    keep = sides >= params.get("fit_min_side", 32)
    if (
        params.get("fit_min_time", 0.0) > 0
    ):  # only sides where this mode's calls are compute-dominated
        times = ev.raw[(ev.raw.method == mode) & ev.raw.metric.str.startswith("time_s@side=")]
        timed = times.groupby(times.metric.str.split("=").str[1].astype(int)).value.median()
        keep &= sides.isin(set(timed[timed >= params["fit_min_time"]].index))
    per_side = rows[keep].groupby(sides[keep]).value.median()
    return paired.slope(
        (per_side.index.to_numpy(float)) ** 2,
        per_side.to_numpy(float),
        f"least-squares log-log slope over sides {', '.join(map(str, per_side.index))}",
    )


def judge_fig7(ev: Evidence) -> Judgement:
    over = ev.raw[ev.raw.metric.str.startswith("over_budget@side=") & (ev.raw.value > 0)]
    first = {
        m: int(g.metric.str.split("=").str[1].astype(int).min()) for m, g in over.groupby("method")
    }
    sides = sorted({int(s) for s in ev.raw.metric.str.extract(r"@side=(\d+)$")[0].dropna()})
    t_approx, m_approx = _slope(ev, "approx", "time_s"), _slope(ev, "approx", "peak_mem_mb")
    exact = _slope(ev, "exact", "peak_mem_mb")
    exact = exact if np.isfinite(exact.value) else _slope(ev, "exact", "time_s")

    def tested(text, est, region, name):
        if np.isfinite(est.value):
            return Part(text, [Comparison(name, est, region, 1.0 if "approx" in name else 2.0)])
        return Part(text, measured=f"{name}: not measurable at these sizes")

    parts = [
        tested(
            "approx: time linear in pixels (log-log slope in 0.7-1.3)",
            t_approx,
            Region(0.7, 1.3),
            "approx time slope",
        ),
        tested(
            "approx: memory at most linear in pixels (slope below 1.3)",
            m_approx,
            Region(hi=1.3),
            "approx memory slope",
        ),
        tested(
            "exact: quadratic in pixels (memory slope, else time slope, above 1.6)",
            exact,
            Region(lo=1.6),
            "exact slope",
        ),
        Part(
            "exact runs out of budget at a smaller image than approx",
            measured=f"first over-budget side: exact {first.get('exact', 'none')}, approx "
            f"{first.get('approx', 'none')} (sides run: {', '.join(map(str, sides))})",
            observed=None
            if "exact" not in first
            else first["exact"] < first.get("approx", math.inf),
        ),
    ]
    return Judgement(parts, ev.labels(), ["slope_time", "slope_memory"], [])
