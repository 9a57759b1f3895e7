"""Whether a results folder's leaderboards were made from its present records, plan and report code (a stamp in
`<run_dir>/.leaderboard-inputs`), so that a rerun with nothing to do keeps them instead of rebuilding them; light
on purpose (no pandas, no scipy): a cached rerun asks it before importing the leaderboard's code."""

from __future__ import annotations

import hashlib
from pathlib import Path

STAMP = ".leaderboard-inputs"


def inputs_stamp(run_dir: Path) -> str:
    """What the leaderboards are made from: the plan, every record (name, size, time) and the report's code."""
    digest = hashlib.sha256()
    for path in [run_dir / "plan.json", *sorted((run_dir / "trials").glob("*.json"))]:
        if path.exists():
            st = path.stat()
            digest.update(f"{path.name} {st.st_size} {st.st_mtime_ns}\n".encode())
    for code in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(code.read_bytes())
    return digest.hexdigest()


def leaderboards_current(run_dir: Path) -> bool:
    run_dir = Path(run_dir)
    stamp = run_dir / STAMP
    return (
        (run_dir / "leaderboard.csv").exists()
        and stamp.exists()
        and stamp.read_text() == inputs_stamp(run_dir)
    )


def mark_current(run_dir: Path) -> None:
    (Path(run_dir) / STAMP).write_text(inputs_stamp(Path(run_dir)))
