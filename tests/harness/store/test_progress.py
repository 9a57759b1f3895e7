"""`store.progress`: what a plan still needs, asked once (the driver's and `run --dry-run`'s one question)."""

from __future__ import annotations

import json

from harness.grid.config import load_grid
from harness.grid.plan import make_plan
from harness.store.models import ModelCache
from harness.store.progress import read_outcomes, record_is_current, survey_plan
from harness.store.records import record_path
from tests.conftest import run, tiny_grid


def test_the_survey_names_each_model_and_trial_as_the_store_holds_it(tmp_path, capsys):
    grid_path, results = tiny_grid(tmp_path), tmp_path / "res"
    plan = make_plan(load_grid(grid_path))
    cache, run_dir = ModelCache(results / "models"), results / "store"
    before = survey_plan(plan, cache, run_dir)
    assert [m.found.status for m in before.models] == ["missing", "missing"]
    assert sum(map(len, before.to_train)) == 2 and len(before.evals_left) == len(plan.evals) == 2
    assert not before.stale and not any(m.holder for m in before.models)

    code, out = run(capsys, "run", "--grid", grid_path, "--results", results, "--executor", "local")
    assert code == 0, out
    after = survey_plan(plan, cache, run_dir)
    assert (
        all(m.stored for m in after.models) and not any(after.to_train) and after.evals_left == []
    )

    done, changed = plan.evals
    path = record_path(run_dir, changed.trial_id)
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "config_hash": "another"}))  # made with other settings
    (cache.folder(done.spec) / "model.pt").write_bytes(
        b"not the model"
    )  # the model it evaluated, damaged
    now = survey_plan(plan, cache, run_dir)
    assert [m.found.status for m in now.models if m.spec.key == done.spec.key] == ["bad"]
    assert {j.trial_id for j in now.evals_left} == {done.trial_id, changed.trial_id}
    assert not record_is_current(
        run_dir, changed.to_config(), cache
    )  # a worker asks the same question

    path.write_text("{ torn")
    found = read_outcomes(run_dir, [changed.trial_id, "store/none"])
    assert found["store/none"] is None and "record" in str(found[changed.trial_id]).lower()
