"""reports/README.md's table of where each claim stands says what the committed packs' verdicts.csv say: every claim
of the paper has a row, and each row's verdict is the one its run's report computed for that experiment."""

from __future__ import annotations

import re
from pathlib import Path

from harness.report.verdicts_table import read_verdicts
from laebench_paper.claims import CLAIMS

REPORTS = Path(__file__).resolve().parent.parent / "reports"
ROW = re.compile(r"^\| [^|]+ \| \[([\w.-]+)\]\(\1/\) \(`([\w.-]+)`\) \| \*\*([a-z ]+)\*\* \|")


def _rows() -> list[tuple[str, str, str]]:
    lines = (REPORTS / "README.md").read_text().splitlines()
    return [m.groups() for m in map(ROW.match, lines) if m]


def test_every_claim_has_a_row_whose_verdict_is_its_reports():
    rows = _rows()
    assert rows, "no claim rows found in reports/README.md"
    judged = set()
    for run, experiment, verdict in rows:
        table = read_verdicts(REPORTS / run)
        mine = table[table.experiment == experiment].drop_duplicates(["claim_id", "experiment"])
        assert len(mine) == 1, (run, experiment, mine.claim_id.tolist())
        assert mine.verdict.iloc[0] == verdict, (run, experiment, mine.verdict.iloc[0], verdict)
        judged.add(mine.claim_id.iloc[0])
    assert judged == {c.id for c in CLAIMS}


def test_every_pack_has_its_readme_and_verdicts():
    for folder in [p for p in REPORTS.iterdir() if p.is_dir()]:
        assert (folder / "README.md").exists(), folder.name
        assert not read_verdicts(folder).empty, folder.name
