"""The report page as a reader's browser draws it: headless Chromium at 1280 px (skipped, saying why, where
Chromium is not installed). The committed reports' pages and a page with a very wide table: no horizontal page
overflow (a wide table scrolls in its own box), every table row as many cells as its header, every figure
loads; their Markdown's tables are rectangular too (GFM pads or drops cells silently, so the page alone cannot
tell)."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.figure import Figure

from harness.report.html import to_html
from tests.conftest import ROOT
from tests.harness.report.pages import CHROMIUM, NO_CHROMIUM, WIDTH, measure, ragged_rows

REPORTS = sorted(p.parent for p in (ROOT / "reports").glob("*/reproduction.md"))
WIDE = (
    "# Wide\n\n- Packages: `"
    + ";".join(f"package{i}=1.{i}.0" for i in range(60))
    + "`\n\n| method | "
    + " | ".join(f"`auroc/authors/score{i}`" for i in range(30))
    + " |\n|---"
    + "|---" * 30
    + "|\n| ae | "
    + " | ".join("0.912 ± 0.034 (paper 0.93)" for _ in range(30))
    + " |\n| | "
    + " | ".join("" for _ in range(29))
    + " | last |\n\n![wide_fig](figures/wide_fig.png)\n*Figure: a caption.*\n"
)


def _page(markdown: str, folder: Path, figures: Path | None) -> Path:
    folder.mkdir(parents=True)
    if figures is not None:
        (folder / "figures").symlink_to(figures, target_is_directory=True)
    page = folder / "reproduction.html"
    page.write_text(to_html(markdown, folder.name))
    return page


def _check(markdown: str, page: Path, tmp_path: Path) -> None:
    assert ragged_rows(markdown) == []
    seen = measure(page, tmp_path / "chromium-profile")
    assert seen["viewport"] == WIDTH
    assert seen["page"] <= WIDTH, f"the page is {seen['page']} px wide in a {WIDTH} px window"
    assert seen["tables"] == [t for t in seen["tables"] if t["boxed"]]  # each in its own scroller
    for table in seen["tables"]:
        assert set(table["rows"]) <= {table["header"]}, table
    assert seen["images"] and len(seen["images"]) == markdown.count("\n![")
    assert [i["src"] for i in seen["images"] if not i["loaded"]] == []


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
@pytest.mark.parametrize("report", REPORTS, ids=[r.name for r in REPORTS])
def test_a_committed_report_page_fits_1280_px_with_whole_rows_and_every_figure(report, tmp_path):
    markdown = (report / "reproduction.md").read_text()
    _check(markdown, _page(markdown, tmp_path / report.name, report / "figures"), tmp_path)


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_a_very_wide_table_scrolls_in_its_box_not_the_page(tmp_path):
    figures = tmp_path / "figures"
    figures.mkdir()
    fig = Figure(figsize=(12, 2))  # 1800 px at 150 dpi: wider than the window, shrunk to fit
    fig.subplots().plot([0, 1], [0, 1])
    fig.savefig(figures / "wide_fig.png", dpi=150)
    _check(WIDE, _page(WIDE, tmp_path / "wide", figures), tmp_path)


def test_ragged_markdown_rows_are_found():
    table = "| a | b | c |\n|---|---|---|\n| 1 | 2 | 3 |\n| | x \\| y | z |\n| | | 1 | 2 |\n"
    assert ragged_rows(table) == ["| | | 1 | 2 |"]
