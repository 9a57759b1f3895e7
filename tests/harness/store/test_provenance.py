"""Where a number comes from: the commit a record or report names is `-dirty` only when code differs from it."""

from __future__ import annotations

import subprocess

from harness.store.provenance import commit_of


def test_dirty_means_changed_code_not_changed_data(tmp_path):
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "model.py").write_text("x = 1\n")
    (tmp_path / "report.md").write_text("a number\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    clean = commit_of(tmp_path)
    assert len(clean) == 12 and not clean.endswith("-dirty")
    (tmp_path / "report.md").write_text("another number\n")  # a report rebuilding its own folder
    commit_of.cache_clear()
    assert commit_of(tmp_path) == clean
    (tmp_path / "model.py").write_text("x = 2\n")
    commit_of.cache_clear()
    assert commit_of(tmp_path) == clean + "-dirty"
