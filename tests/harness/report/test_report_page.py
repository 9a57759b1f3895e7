"""How the report reads: the HTML page's structure (tables in scrollers, verdict badges, figure captions,
summary links that land on a section) and one colour per method across every figure of a report."""

from __future__ import annotations

import re

import pandas as pd

from harness.report.evidence import Evidence
from harness.report.html import slug, to_html
from laebench_paper.plotting import style

MARKDOWN = (
    """# Reproduction report: r

## Summary

| claim | experiment | verdict | measured |
|---|---|---|---|
| [Table 3: OOD — `ood-a`](#table-3-ood--ood-a) | `ood-a` | **not reproduced** | x |
| [Fig. 12: KNN](#fig-12-knn) | | **inconclusive** | y |

## Table 3: OOD — `ood-a`

**Verdict: reproduced** — every part holds

| method | """
    + " | ".join(f"`auroc/score{i}`" for i in range(12))
    + """ |
|---|"""
    + "---|" * 12
    + """
| ae | """
    + " | ".join("0.5" for _ in range(12))
    + """ |

![ood-a_fig09_roc](figures/ood-a_fig09_roc.png)
*Figure: Fig. 9: ROC curves, mean and 95% CI band over seeds.*

## Fig. 12: KNN
"""
)


def test_every_table_scrolls_every_figure_has_a_caption_and_links_land_on_sections():
    page = to_html(MARKDOWN, "r")
    assert page.count("<table>") == 2
    assert page.count('<div class="scroll"><table>') == 2  # a wide table scrolls in its own box
    figures = re.findall(r"<figure>(.*?)</figure>", page)
    assert len(figures) == 1 == page.count("<img")
    assert (
        "<figcaption>Fig. 9: ROC curves, mean and 95% CI band over seeds.</figcaption>"
        in figures[0]
    )
    assert "*Figure:" not in page  # the caption line is drawn once, with its image
    ids = set(re.findall(r'<h\d id="([^"]+)"', page))
    links = re.findall(r'<a href="#([^"]+)"', page)
    assert links and set(links) <= ids
    assert slug("Table 3: OOD — `ood-a`") == "table-3-ood--ood-a"


def test_verdicts_are_badges_with_colour_and_symbol():
    page = to_html(MARKDOWN, "r")
    assert '<span class="badge bad">✗ not reproduced</span>' in page
    assert '<span class="badge open">? inconclusive</span>' in page
    assert '<span class="badge good">✓ reproduced</span>' in page  # "**Verdict: reproduced**" too
    assert "<strong>not reproduced</strong>" not in page


def _evidence(labels: list[str], run_labels: tuple) -> Evidence:
    board = pd.DataFrame({"method": labels, "metric": "m", "mean": 0.5})
    return Evidence("e", "d", board, pd.DataFrame(), run_labels=run_labels)


def test_a_method_keeps_its_colour_and_marker_in_every_figure_of_a_report():
    run = ("ae", "vae", "lae_online", "my_method")
    first = style(_evidence(["lae_online", "vae"], run))
    second = style(_evidence(["my_method", "ae", "lae_online"], run))
    for label in ("lae_online",):
        assert first[0][label] == second[0][label] and first[1][label] == second[1][label]
    colours = second[0]
    assert (
        len({colours[x] for x in ("my_method", "ae", "lae_online")}) == 3
    )  # a user's method its own
    # an experiment drawn alone (no run order given) still gives each of its methods a distinct colour
    alone = style(_evidence(["a", "b", "c"], ()))[0]
    assert len(set(alone.values())) == 3


def test_summary_line_counts_untested_parts_without_a_dangling_comma():
    from types import SimpleNamespace

    from harness.report.verdicts import summary

    def judgement(*states):
        return SimpleNamespace(parts=[SimpleNamespace(state=s) for s in states], comparisons=[])

    assert summary(judgement(None, None)) == "parts: 2 not tested"  # was "parts: , 2 not tested"
    assert summary(judgement("holds", None)) == "parts: 1 holds, 1 not tested"
    assert summary(judgement()) == "parts: none"
