"""The subset of markdown a reproduction report uses (headings, lists, tables, images) as one HTML page."""

from __future__ import annotations

import html
import re


def _inline(text: str) -> str:
    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)


def to_html(markdown: str, title: str) -> str:
    """The subset of markdown `to_markdown` writes (headings, lists, tables, images) as one HTML page."""
    body, table, items = [], [], []

    def flush():
        if table:
            rows = [r for r in table if not re.fullmatch(r"\|(---\|)+", r)]
            cells = [[_inline(c.strip()) for c in r.strip("|").split(" | ")] for r in rows]
            body.append(
                "<table>"
                + "".join(
                    "<tr>" + "".join(f"<{t}>{c}</{t}>" for c in row) + "</tr>"
                    for t, row in zip(["th"] + ["td"] * len(cells), cells)
                )
                + "</table>"
            )
            table.clear()
        if items:
            body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for line in markdown.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        if line.startswith("- "):
            items.append(line[2:])
            continue
        flush()
        image = re.fullmatch(r"!\[(.*)\]\((.*)\)", line)
        heading = re.fullmatch(r"(#+) (.*)", line)
        if image:
            body.append(f'<img alt="{html.escape(image[1])}" src="{html.escape(image[2])}">')
        elif heading:
            body.append(f"<h{len(heading[1])}>{_inline(heading[2])}</h{len(heading[1])}>")
        elif line.strip():
            body.append(f"<p>{_inline(line)}</p>")
    flush()
    style = (
        "body{font-family:sans-serif;max-width:70em;margin:auto;padding:1em}table{border-collapse:collapse;"
        "margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .5em;font-size:.9em}img{max-width:100%}"
    )
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{style}"
        f"</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
