"""The reproduction report's Markdown as one HTML page, rendered by markdown-it-py (CommonMark with GFM tables).

On top of the renderer: every table in its own horizontal scroller (the page never overflows), verdicts and
part states as coloured badges with a symbol (`**reproduced**`, `**Verdict: reproduced**`, a cell that is
just `✓ holds`), headings with the ids that the summary's links point to (`slug`), and an image followed by its
`*Figure: ...*` line as a `<figure>` with that line as its `<figcaption>`. Public: `to_html`, `slug`, `badge`.
"""

from __future__ import annotations

import html
import re

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

BADGES = {  # verdict or part state -> (symbol, css class)
    "not reproduced": ("✗", "bad"),
    "contradicted": ("✗", "bad"),
    "reproduced": ("✓", "good"),
    "holds": ("✓", "good"),
    "equivalent": ("=", "tie"),
    "inconclusive": ("?", "open"),
    "other setting": ("≠", "other"),
    "not comparable": ("≠", "other"),
    "not run": ("–", "none"),
    "not tested": ("–", "none"),
}
CAPTION = "Figure: "  # the line under an image that is its caption: `*Figure: ...*`
STYLE = (
    "body{font-family:sans-serif;max-width:80em;margin:auto;padding:1em;line-height:1.4}"
    "p,li{overflow-wrap:anywhere}code{font-size:.9em}"
    ".scroll{overflow-x:auto;max-width:100%;margin:.5em 0}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:.2em .5em;font-size:.85em;vertical-align:top;text-align:left}"
    "figure{margin:1em 0}figure img{max-width:100%}figcaption{font-size:.9em;color:#333}"
    ".badge{border-radius:.8em;padding:.05em .6em;font-weight:bold;white-space:nowrap}"
    ".good{background:#d9f2d9;color:#135e13}.bad{background:#f9d6d5;color:#8a1c17}"
    ".open{background:#fff1c2;color:#6b5200}.other{background:#dde7f7;color:#1f3f73}"
    ".tie{background:#ead9f2;color:#5a1f73}.none{background:#eee;color:#555}"
)
_MARK = re.compile(rf"(?:[{''.join(s for s, _ in BADGES.values())}] )?({'|'.join(BADGES)})")


def slug(text: str) -> str:
    """A heading's anchor, as GitHub makes it (lower case, punctuation dropped, spaces to hyphens)."""
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def badge(verdict: str) -> str:
    symbol, css = BADGES.get(verdict, ("", "none"))
    return f'<span class="badge {css}">{symbol} {html.escape(verdict)}</span>'


def _badge_token(verdict: str) -> Token:
    token = Token("html_inline", "", 0)
    token.content = badge(verdict)
    return token


def _badges(inline: Token, in_cell: bool) -> None:
    """`**verdict**` and `**Verdict: verdict**` as badges; a table cell that is only a mark (`✓ holds`) too."""
    kids = inline.children or []
    if in_cell and len(kids) == 1 and kids[0].type == "text":
        whole = _MARK.fullmatch(kids[0].content.strip())
        if whole:
            inline.children = [_badge_token(whole[1])]
            return
    out, i = [], 0
    while i < len(kids):
        window = kids[i : i + 3]
        if [t.type for t in window] == ["strong_open", "text", "strong_close"]:
            text = window[1].content.removeprefix("Verdict: ")
            if text in BADGES:
                out.append(_badge_token(text))
                i += 3
                continue
        out.append(kids[i])
        i += 1
    inline.children = out


def _figure(tokens: list[Token], i: int) -> None:
    """tokens[i:i+3], a paragraph that starts with an image, as a figure; its `*Figure: ...*` line the caption."""
    kids = tokens[i + 1].children or []
    if not kids or kids[0].type != "image":
        return
    tokens[i].tag = tokens[i + 2].tag = "figure"
    rest = [t for t in kids[1:] if t.type != "softbreak"]
    if (
        len(rest) >= 3
        and rest[0].type == "em_open"
        and rest[-1].type == "em_close"
        and rest[1].type == "text"
        and rest[1].content.startswith(CAPTION)
    ):
        rest[0].tag = rest[-1].tag = "figcaption"
        rest[1].content = rest[1].content.removeprefix(CAPTION)
        tokens[i + 1].children = [kids[0], *rest]


def _decorate(state: StateCore) -> None:
    """The core rule that adds heading ids, badges and figures to markdown-it's tokens."""
    tokens, in_cell = state.tokens, False
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            token.attrSet("id", slug(tokens[i + 1].content))
        elif token.type == "paragraph_open":
            _figure(tokens, i)
        elif token.type in ("td_open", "th_open", "td_close", "th_close"):
            in_cell = token.nesting == 1
        elif token.type == "inline":
            _badges(token, in_cell)


def _renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.core.ruler.push("laebench_report", _decorate)
    md.add_render_rule("table_open", lambda *_: '<div class="scroll"><table>\n')
    md.add_render_rule("table_close", lambda *_: "</table></div>\n")
    return md


def to_html(markdown: str, title: str) -> str:
    """The Markdown `harness.report.document` writes as one HTML page (see the module's docstring)."""
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><meta name='viewport' "
        f"content='width=device-width'><title>{html.escape(title)}</title><style>{STYLE}"
        f"</style></head><body>\n{_renderer().render(markdown)}</body></html>\n"
    )
