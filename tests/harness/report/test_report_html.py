"""The report page as markdown-it-py renders it, checked without a browser: a verdict table's continuation rows
(`| | | comparison | Δ | ...`) keep every cell in its column (the hand-written renderer shifted them one to the
left behind a stray `|`), every state is a badge (`equivalent` too), and a `|` inside a cell stays in it."""

from __future__ import annotations

from html.parser import HTMLParser

from harness.report.html import BADGES, to_html
from harness.report.markdown import row, rule

HEADER = ("", "part of the claim", "comparison", "Δ [95% CI]", "p (Holm)", "test", "seeds")
TABLE = "\n".join(
    [
        row(*HEADER),
        rule(len(HEADER)),
        row("✓ holds", "online best", "a − b: holds", "+0.1 [0.05, 0.15]", "0.01", "t", "—"),
        row("", "", "a − c: holds", "+0.2 [0.1, 0.3]", "0.02", "t", "—"),
        row("= equivalent", "tie", "a − d: equivalent", "+0.001 [-0.004, 0.006]", "0.9", "t", "—"),
        row("", "", "p(x|z) − q: inconclusive", "-0.3 [-0.9, 0.3]", "0.4", "t", "7"),
    ]
)


class _Rows(HTMLParser):
    """The text of every table cell, row by row."""

    def __init__(self):
        super().__init__()
        self.rows, self._cell = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.rows[-1].append(self._cell.strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def _cells(page: str) -> list[list[str]]:
    parser = _Rows()
    parser.feed(page)
    return parser.rows


def test_continuation_rows_keep_each_cell_in_its_column():
    rows = _cells(to_html(TABLE, "t"))
    assert [len(r) for r in rows] == [len(HEADER)] * 5
    assert [r[3][:1] for r in rows[1:]] == ["+", "+", "+", "-"]  # every Δ under "Δ [95% CI]"
    assert rows[2][:3] == ["", "", "a − c: holds"] and rows[4][2] == "p(x|z) − q: inconclusive"


def test_every_state_is_a_badge_with_its_own_symbol_and_colour():
    page = to_html(TABLE + "\n\n**Verdict: not reproduced** and **equivalent**", "t")
    assert '<span class="badge good">✓ holds</span>' in page
    assert page.count('<span class="badge tie">= equivalent</span>') == 2  # the cell, the bold word
    assert '<span class="badge bad">✗ not reproduced</span>' in page
    assert len({css for _, css in BADGES.values()}) >= 6 and BADGES["equivalent"] == ("=", "tie")
    assert ".tie{" in page  # its colour is defined
