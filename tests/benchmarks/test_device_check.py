"""The device check (`benchmarks.device_check`) at its tiny size on the CPU: the demo-like grid and the
paper-sized experiment's steps with the local executor, packed and reported, the files the device tool returns."""

from __future__ import annotations

import json
import tarfile

from benchmarks.device_check import main


def test_the_device_check_runs_its_steps_and_leaves_what_comes_back(tmp_path):
    out = tmp_path / "out"
    assert main(["run", "--size", "tiny", "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "device_check.log",
        "device_check.txt",
        "leaderboard.md",
        "report.tar.gz",
        "timings.json",
    ]
    assert len(names) <= 8  # what the device tool returns: at most 8 files
    times = json.loads((out / "timings.json").read_text())
    assert times["device"] == "cpu" and all(times[k] > 0 for k in ("demo_s", "paper_s", "report_s"))
    with tarfile.open(out / "report.tar.gz") as tar:
        members = tar.getnames()
    assert "device-table3/reproduction.md" in members and "device-table3/plan.json" in members
    assert "ood-fashionmnist" in (out / "leaderboard.md").read_text()


def test_an_idx_file_cut_to_its_first_items_keeps_them_and_says_how_many():
    """Hand-made IDX files: 3 labels and 3 images of 2 x 2, cut to 2."""
    from benchmarks.device_check import first_items

    labels = bytes([0, 0, 8, 1]) + (3).to_bytes(4, "big") + bytes([7, 8, 9])
    assert first_items(labels, 2) == bytes([0, 0, 8, 1]) + (2).to_bytes(4, "big") + bytes([7, 8])
    images = (
        bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (3, 2, 2)) + bytes(range(12))
    )
    cut = first_items(images, 2)
    assert cut[4:8] == (2).to_bytes(4, "big") and cut[8:16] == images[8:16]
    assert cut[16:] == bytes(range(8))
    assert first_items(labels, 10) == labels  # never more than the file holds
