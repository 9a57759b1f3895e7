"""The subset of markdown a reproduction report uses (headings, lists, tables, links, images with captions) as
one HTML page: every table in its own horizontal scroller (the page never overflows), verdicts as coloured
badges with a symbol, headings with the ids that summary links point to (`slug`), figures with captions."""

from __future__ import annotations

import html
import re

BADGES = {  # verdict or part state -> (symbol, css class); longest first so "not reproduced" wins
    "not reproduced": ("✗", "bad"),
    "contradicted": ("✗", "bad"),
    "reproduced": ("✓", "good"),
    "holds": ("✓", "good"),
    "inconclusive": ("?", "open"),
    "other setting": ("≠", "other"),
    "not comparable": ("≠", "other"),
    "not run": ("–", "none"),
}
STYLE = (
    "body{font-family:sans-serif;max-width:80em;margin:auto;padding:1em;line-height:1.4}"
    ".scroll{overflow-x:auto;max-width:100%;margin:.5em 0}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:.2em .5em;font-size:.85em;vertical-align:top}"
    "figure{margin:1em 0}figure img{max-width:100%}figcaption{font-size:.9em;color:#333}"
    ".badge{border-radius:.8em;padding:.05em .6em;font-weight:bold;white-space:nowrap}"
    ".good{background:#d9f2d9;color:#135e13}.bad{background:#f9d6d5;color:#8a1c17}"
    ".open{background:#fff1c2;color:#6b5200}.other{background:#dde7f7;color:#1f3f73}"
    ".none{background:#eee;color:#555}"
)


def slug(text: str) -> str:
    """A heading's anchor, as GitHub makes it (lower case, punctuation dropped, spaces to hyphens)."""
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def badge(verdict: str) -> str:
    symbol, css = BADGES.get(verdict, ("", "none"))
    return f'<span class="badge {css}">{symbol} {html.escape(verdict)}</span>'


def _inline(text: str) -> str:
    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\[([^\]]+)\]\((#[\w\-]+)\)", r'<a href="\2">\1</a>', text)
    verdicts = "|".join(map(re.escape, BADGES))
    text = re.sub(rf"\*\*(?:Verdict: )?({verdicts})\*\*", lambda m: badge(m[1]), text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)


def _table(lines: list[str]) -> str:
    rows = [r for r in lines if not re.fullmatch(r"\|(---\|)+", r)]
    cells = [[_inline(c.strip()) for c in r.strip("|").split(" | ")] for r in rows]
    body = "".join(
        "<tr>" + "".join(f"<{t}>{c}</{t}>" for c in row) + "</tr>"
        for t, row in zip(["th"] + ["td"] * len(cells), cells)
    )
    return f'<div class="scroll"><table>{body}</table></div>'


def to_html(markdown: str, title: str) -> str:
    """The markdown `harness.report.document` writes as one HTML page (see the module's docstring)."""
    body, table, items = [], [], []
    lines = markdown.splitlines()

    def flush():
        if table:
            body.append(_table(table))
            table.clear()
        if items:
            body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for i, line in enumerate(lines):
        if line.startswith("|"):
            table.append(line)
            continue
        if line.startswith("- "):
            items.append(line[2:])
            continue
        flush()
        image = re.fullmatch(r"!\[(.*)\]\((.*)\)", line)
        heading = re.fullmatch(r"(#+) (.*)", line)
        caption = re.fullmatch(r"\*Figure: (.*)\*", line)
        if image:
            following = lines[i + 1] if i + 1 < len(lines) else ""
            text = re.fullmatch(r"\*Figure: (.*)\*", following)
            img = f'<img alt="{html.escape(image[1])}" src="{html.escape(image[2])}">'
            cap = f"<figcaption>{_inline(text[1])}</figcaption>" if text else ""
            body.append(f"<figure>{img}{cap}</figure>")
        elif caption:
            continue  # drawn with its image
        elif heading:
            level, text = len(heading[1]), heading[2]
            body.append(f'<h{level} id="{slug(text)}">{_inline(text)}</h{level}>')
        elif line.strip():
            body.append(f"<p>{_inline(line)}</p>")
    flush()
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><meta name='viewport' "
        f"content='width=device-width'><title>{html.escape(title)}</title><style>{STYLE}"
        f"</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
