"""Checks of a report page shared by the report tests: the Markdown's tables (each row as many cells as its
header, counted as GFM does) and the page in headless Chromium at 1280 px (overflow, cells per row, images)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from markdown_it import MarkdownIt

CHROMIUM = next(
    (path for name in ("chromium", "chromium-browser") if (path := shutil.which(name))), None
)
NO_CHROMIUM = (
    "headless Chromium is not installed (no `chromium` on PATH): on Debian, "
    "`apt-get update && apt-get install -y chromium` (.ci/run does this)"
)
WIDTH = 1280
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
# Runs on `load` (every image settled) and writes what it measured into the DOM that --dump-dom prints.
PROBE = """<script>
window.addEventListener("load", () => {
  const cells = (tr) => [...tr.cells].reduce((n, c) => n + c.colSpan, 0);
  const tables = [...document.querySelectorAll("table")].map((t) => ({
    header: cells(t.rows[0]),
    rows: [...t.rows].slice(1).map(cells),
    boxed: t.parentElement.classList.contains("scroll"),
  }));
  const images = [...document.images].map((i) => ({src: i.getAttribute("src"),
    loaded: i.complete && i.naturalWidth > 0}));
  const out = document.createElement("pre");
  out.id = "laebench-probe";
  out.textContent = JSON.stringify({viewport: window.innerWidth,
    page: document.documentElement.scrollWidth, tables, images});
  document.body.appendChild(out);
});
</script>"""


def ragged_rows(markdown: str) -> list[str]:
    """The table rows of `markdown` whose cell count (unescaped `|`, as GFM splits) differs from their
    header's."""
    lines, bad = markdown.splitlines(), []
    for token in MarkdownIt("commonmark").enable("table").parse(markdown):
        if token.type != "table_open":
            continue
        first, last = token.map
        rows = [lines[first], *lines[first + 2 : last]]  # the header, then the body (after |---|)
        counts = [len(re.findall(r"(?<!\\)\|", row.strip().strip("|"))) + 1 for row in rows]
        bad += [row for row, n in zip(rows, counts) if n != counts[0]]
    return bad


def measure(page: Path, user_dir: Path) -> dict:
    """What PROBE measures on `page` (an HTML file) in headless Chromium, WIDTH px wide."""
    probed = page.with_name(f"probe-{page.name}")
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    done = subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={user_dir}",
            f"--window-size={WIDTH},900",
            "--dump-dom",
            probed.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r'<pre id="laebench-probe">(.*?)</pre>', done.stdout, flags=re.S)
    assert found, f"the probe did not run (exit {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(found[1].replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
