"""The ablation table (benchmarks/ood_ablation.py) on hand-made per-input scores: each row's AUROC and its difference
to the baseline are the means over seeds of sklearn's per-seed AUROCs, the p-values are Holm-corrected over every
row and score, a row is compared on the seeds it shares with the baseline, and the sentence names the rows that
hold after Holm, then the largest move if it does not."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import benchmarks.ood_ablation as ood_ablation
import harness.report.paired as paired

IS_OOD = np.array([0] * 6 + [1] * 6)
INK = np.arange(12.0)
# per label and seed, the sigma2_output of 6 in-distribution then 6 OOD test images (ties included)
SCORES = {
    "base": {0: [1, 2, 3, 4, 5, 6, 3, 4, 5, 6, 7, 8], 1: [2, 1, 4, 3, 6, 5, 5, 6, 2, 7, 8, 9]},
    "strong": {0: [1, 2, 3, 1, 2, 3, 7, 8, 9, 4, 8, 9], 1: [1, 1, 2, 2, 3, 7, 4, 4, 5, 5, 6, 6]},
    "weak": {0: [5, 6, 7, 8, 9, 1, 1, 2, 3, 9, 2, 3], 1: [4, 5, 6, 7, 8, 9, 1, 2, 3, 4, 5, 6]},
    "one_seed": {0: [1, 3, 2, 4, 6, 5, 4, 7, 5, 8, 6, 9]},
}
INKMATCHED = {"base": [0.6, 0.7], "strong": [0.9, 1.0], "weak": [0.2, 0.4], "one_seed": [0.5]}


@pytest.fixture
def run(monkeypatch):
    rows = [
        {
            "experiment": "ood",
            "method": label,
            "seed": seed,
            "status": "ok",
            "metric": m,
            "value": v,
        }
        for label, by_seed in SCORES.items()
        for seed in by_seed
        for m, v in [
            ("auroc/sigma2_output", 0.0),
            ("auroc_inkmatched/sigma2_output", INKMATCHED[label][seed]),
        ]
    ]
    monkeypatch.setattr(ood_ablation, "collect_raw", lambda run_dir: pd.DataFrame(rows))

    def scores(run_dir, experiment, label, seed):
        if seed not in SCORES[label]:
            return None
        return pd.DataFrame({"ink": INK, "is_ood": IS_OOD, "sigma2_output": SCORES[label][seed]})

    monkeypatch.setattr(ood_ablation, "_scores", scores)


def _auroc(label: str, seed: int) -> float:
    return roc_auc_score(IS_OOD, SCORES[label][seed])


def _cells(table: str) -> dict[str, list[str]]:
    lines = table.splitlines()[2:]
    return {
        cells[0]: cells
        for cells in ([c.strip() for c in line.strip("|").split("|")] for line in lines)
    }


def test_each_row_against_the_baseline_on_shared_seeds_with_holm(run):
    table, sentence = ood_ablation.ablation("R", "ood", "base", ["sigma2_output"])
    rows = _cells(table)
    assert list(rows) == ["base", "strong", "weak", "one_seed"]  # the baseline first
    assert [rows[x][1] for x in rows] == ["2", "2", "2", "1"]
    for label in rows:
        seeds = sorted(SCORES[label])
        level = float(rows[label][2].split()[0])
        assert level == pytest.approx(np.mean([_auroc(label, s) for s in seeds]), abs=5e-4)
        assert float(rows[label][3]) == pytest.approx(
            np.mean(INKMATCHED[label][: len(seeds)]), abs=5e-4
        )
    assert rows["base"][4] == ""
    number = r"[-+]?\d+\.\d+|nan"
    parsed = {}
    for label in ["strong", "weak"]:
        value, low, high, p, p_holm = map(float, re.findall(number, rows[label][4]))
        expected = np.mean([_auroc(label, s) - _auroc("base", s) for s in (0, 1)])
        assert value == pytest.approx(expected, abs=5e-4)
        assert -1.0 <= low <= value <= high <= 1.0  # clipped to what a difference of AUROCs can be
        parsed[label] = (value, p, p_holm)
    # one seed shared with the baseline: the difference without an interval or a test, not counted by Holm
    assert rows["one_seed"][4] == (
        f"{_auroc('one_seed', 0) - _auroc('base', 0):+.3f} (no interval: one seed), no test"
    )
    ps = [parsed[x][1] for x in ["strong", "weak"]]
    assert [parsed[x][2] for x in ["strong", "weak"]] == pytest.approx(paired.holm(ps), abs=5e-3)
    biggest = max(["strong", "weak"], key=lambda x: abs(parsed[x][0]))
    assert all(parsed[x][2] >= paired.ALPHA for x in parsed)  # two seeds: nothing holds after Holm
    assert sentence.startswith(
        "No setting moves `sigma2_output`'s AUROC against base significantly"
    )
    assert f"The largest move is {biggest}'s: {rows[biggest][4].split(',')[0]}" in sentence


def _estimate(value: float, se: float) -> paired.Estimate:
    return paired.Estimate(value=value, se=se, df=2, test="t", n_seeds=3)


def test_the_sentence_names_what_holds_after_holm_then_a_larger_move_that_does_not():
    moves = [
        ("small", _estimate(-0.10, 0.01), 0.04),
        ("held", _estimate(-0.38, 0.02), 0.043),
        ("noisy", _estimate(-0.44, 0.05), 0.21),
        ("none", _estimate(+0.07, 0.04), 1.0),
    ]
    sentence = ood_ablation.summary_sentence(moves, "s", "base")
    assert sentence == (
        "After Holm, these settings move `s`'s AUROC against base: held by -0.380 [-0.466, -0.294] "
        "(Holm p 0.043); small by -0.100 [-0.143, -0.057] (Holm p 0.04). The largest move is noisy's: "
        "-0.440 [-0.655, -0.225] (not significant after Holm, p 0.21)."
    )
    assert ood_ablation.summary_sentence(moves[1:2], "s", "base").endswith("(Holm p 0.043).")


def test_rows_scored_on_other_images_are_refused(run, monkeypatch):
    original = ood_ablation._scores

    def shifted(run_dir, experiment, label, seed):
        table = original(run_dir, experiment, label, seed)
        if table is not None and label == "weak":
            table["ink"] = table["ink"] + 1
        return table

    monkeypatch.setattr(ood_ablation, "_scores", shifted)
    with pytest.raises(SystemExit, match="weak and base were scored on different test images"):
        ood_ablation.ablation("R", "ood", "base", ["sigma2_output"])
