"""`python -m harness part`: a copy of a grid that runs some of its seeds, methods or experiments, whose trials have
the whole grid's config hashes (so `pack --merge` can join the parts), checked on the paper's Table 3 grid; a name
the grid lacks is one error line, exit 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.cli import main
from harness.grid.config import load_grid
from harness.grid.plan import make_plan

ROOT = Path(__file__).resolve().parents[3]
TABLE3 = ROOT / "laebench_paper" / "configs" / "table3-conv.yaml"


def _hashes(path) -> dict[str, str]:
    return {job.trial_id: job.config_hash for job in make_plan(load_grid(path)).evals}


def _wider(tmp_path, seeds: str) -> Path:
    """The whole grid with every seeds list at `seeds`: the plan a part's seeds belong to."""
    text = TABLE3.read_text()
    for line in {line for line in text.splitlines() if "seeds: [" in line}:
        head, _, tail = line.partition("seeds: [")
        text = text.replace(line, head + f"seeds: [{seeds}]" + tail.partition("]")[2])
    path = tmp_path / "wider.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "args, trials",
    [
        (["--seeds", "3,4", "--methods", "vae,mc_ae", "--experiments", "ood-fashionmnist"], 4),
        (["--seeds", "5-6", "--methods", "lae_online,ae,lae_posthoc", "--gpu", "1"], 6 + 2 * 10),
        (["--methods", "ae_likelihood"], 5),
    ],
    ids=["far-rivals", "gpu-seeds-past-the-grid", "one-method"],
)
def test_a_parts_trials_have_the_whole_grids_hashes(tmp_path, capsys, args, trials):
    out = tmp_path / "part.yaml"
    assert main(["part", str(TABLE3), *args, "--out", str(out)]) == 0
    part = _hashes(out)
    whole = _hashes(_wider(tmp_path, "0, 1, 2, 3, 4, 5, 6"))
    assert len(part) == trials
    assert all(whole[trial] == config_hash for trial, config_hash in part.items())
    grid = load_grid(out)
    labels = {m.label for e in grid.experiments for m in e.methods}
    asked = args[args.index("--methods") + 1].split(",")
    assert labels == set(asked)
    if "--gpu" in args:
        assert all(e.resources["gpu"] == 1 for e in grid.experiments)
    assert out.read_text().startswith("# A part of table3-conv.yaml")


def test_the_part_prints_without_out_and_names_what_the_grid_lacks(capsys):
    assert main(["part", str(TABLE3), "--methods", "vae"]) == 0
    text = capsys.readouterr().out
    rows = re.findall(r"^    (\w+):", text.split("  methods:\n")[1], flags=re.M)  # the method rows
    assert rows == ["vae"] and text.count("  methods:\n") == 1, rows
    assert main(["part", str(TABLE3), "--methods", "vea,ae"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no method vea" in err and "mc_ae" in err, err
    assert main(["part", str(TABLE3), "--seeds", "x"]) == 2
    assert "--seeds" in capsys.readouterr().err


def test_a_part_of_the_demo_keeps_its_task_owned_experiment_with_the_parts_seed(tmp_path):
    demo = ROOT / "harness" / "grids" / "demo.yaml"
    out = tmp_path / "part.yaml"
    assert main(["part", str(demo), "--seeds", "1", "--out", str(out)]) == 0
    part, whole = _hashes(out), _hashes(demo)
    assert part and all(trial.split("/")[2].startswith("seed1") for trial in part)
    assert (
        "hessian-scaling/approx/seed1/side=32" in part
    )  # the task-owned experiment, at the part's seed
    assert {t: whole[t] for t in part if t in whole} == {t: part[t] for t in part if t in whole}
    assert set(part) - set(whole) == {t for t in part if t.startswith("hessian-scaling/")}
