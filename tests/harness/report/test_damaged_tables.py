"""A damaged per-input table in a results or report folder is named in one line with what happens to it: the
paired tests leave it out (per-seed AUROCs instead), and `read_table` (the figures' reader) raises naming it."""

from __future__ import annotations

import gzip
import io
import zipfile

import pandas as pd
import pytest

from harness.report.evidence import Evidence, read_table
from harness.store.files import DamagedFileError


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("scores.csv", "is_ood,score\n0,1.0\n")
    return buffer.getvalue()


DAMAGED = {
    "not gzip": ("scores.csv.gz", _zip_bytes(), "BadGzipFile"),
    "truncated gzip": ("scores.csv.gz", gzip.compress(b"is_ood,s\n" + b"0,1\n" * 500)[:40], "EOFError"),
    "not text": ("scores.csv", bytes(range(128, 256)) * 4, "UnicodeDecodeError"),
}  # fmt: skip


@pytest.mark.parametrize("case", DAMAGED, ids=list(DAMAGED))
def test_a_damaged_scores_table_is_named_and_left_out(case, tmp_path, capsys):
    name, data, error = DAMAGED[case]
    folder = tmp_path / "artifacts" / "ood" / "lae" / "seed0"
    folder.mkdir(parents=True)
    (folder / name).write_bytes(data)
    ev = Evidence("ood", "mnist", pd.DataFrame(), pd.DataFrame(), run_dir=tmp_path)
    assert ev.scores("lae", 0) is None
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"[report] {folder / name}: damaged per-input scores table ({error}")
    assert line.endswith(
        "left out; its paired tests use per-seed AUROCs instead (rerun its trial or pack it again "
        "to restore it)"
    )
    with pytest.raises(DamagedFileError, match=f"^{folder / name}: damaged per-input table"):
        read_table(folder / name)


def test_a_table_without_its_labels_is_damaged_and_a_good_one_is_read(tmp_path, capsys):
    folder = tmp_path / "artifacts" / "ood" / "lae"
    (folder / "seed0").mkdir(parents=True)
    (folder / "seed1").mkdir(parents=True)
    (folder / "seed0" / "scores.csv").write_text("score\n1.0\n")
    with gzip.open(folder / "seed1" / "scores.csv.gz", "wt") as out:
        out.write("is_ood,score\n0,1.0\n1,2.0\n")
    ev = Evidence("ood", "mnist", pd.DataFrame(), pd.DataFrame(), run_dir=tmp_path)
    assert ev.scores("lae", 0) is None
    assert (
        "seed0/scores.csv: damaged per-input scores table (no is_ood column)"
        in capsys.readouterr().out
    )
    assert ev.scores("lae", 1).is_ood.tolist() == [0, 1]
