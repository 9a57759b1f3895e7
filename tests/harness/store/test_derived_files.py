"""Files derived from a model (`derived/*.json`, the typicality reference; `snapshots/epoch-*.pt`) carry a checksum in
their index: `verify` names each damaged one with what will happen to it, and a run computes a damaged derived
result again instead of using it."""

from __future__ import annotations

import json
import pickle

import pytest

from harness.execution.context import RunContext
from harness.execution.trials.train import train_model
from harness.store.layout import CacheError
from harness.store.models import ModelCache
from harness.store.snapshots import load_snapshot, snapshot_epochs
from methods.base import ModelSpec
from tests.conftest import run


@pytest.fixture
def trained(tmp_path):
    """A tiny trained model with a snapshot every epoch, and its cache."""
    spec = ModelSpec(
        "ae",
        {},
        {"name": "synthetic", "classes": None, "limit": None},
        {"arch": "mlp", "latent_dim": 2, "hidden": [8]},
        {"max_epochs": 2, "batch_size": 64, "snapshot_every": 1},
        0,
    )
    train_model(spec, RunContext(models_dir=str(tmp_path / "models")), report=lambda m: None)
    return spec, ModelCache(tmp_path / "models")


def test_an_altered_derived_result_is_named_by_verify_and_computed_again(trained, tmp_path, capsys):
    spec, cache = trained
    calls = []

    def compute():
        calls.append(1)
        return {"log_px": 0.51}

    assert cache.derived(spec, "typicality", {"n": 3}, compute) == {"log_px": 0.51}
    (path,) = (cache.folder(spec) / "derived").glob("typicality-*.json")
    index = json.loads((path.parent / "index.json").read_text())
    assert set(index[path.name]) == {"size", "sha256"}
    assert run(capsys, "verify", tmp_path / "models")[0] == 0

    stored = json.loads(path.read_text())
    stored["value"]["log_px"] = 0.46  # altered numbers, still valid JSON with the right key
    path.write_text(json.dumps(stored, sort_keys=True))
    code, out = run(capsys, "verify", tmp_path / "models")
    assert code == 1, out
    assert (
        f"damaged {path}: its size or sha256 differs from derived/index.json; computed again when an "
        f"evaluation of its model next needs it"
    ) in out

    capsys.readouterr()
    assert cache.derived(spec, "typicality", {"n": 3}, compute) == {"log_px": 0.51}
    assert len(calls) == 2  # not served: computed again
    assert f"[cache] {path} is damaged (its size or sha256 differs" in capsys.readouterr().out
    assert run(capsys, "verify", tmp_path / "models")[0] == 0

    path.with_name("typicality-planted.json").write_text('{"key": {}, "value": 1}')
    code, out = run(capsys, "verify", tmp_path / "models")
    assert code == 1 and "typicality-planted.json: not listed in derived/index.json" in out


def test_damaged_snapshots_are_named_by_verify_and_refused(trained, tmp_path, capsys):
    spec, cache = trained
    folder = cache.folder(spec)
    assert snapshot_epochs(folder) == [1, 2]
    assert load_snapshot(folder, spec, 1) is not None
    first = folder / "snapshots" / "epoch-001.pt"
    first.write_bytes(first.read_bytes()[:-10])
    planted = folder / "snapshots" / "epoch-009.pt"
    planted.write_bytes(pickle.dumps(print))  # a pickle that names a function: never loaded
    code, out = run(capsys, "verify", tmp_path / "models")
    assert code == 1, out
    refused = "refused when read (load_snapshot); training the model afresh writes it again"
    assert (
        f"damaged {first}: its size or sha256 differs from snapshots/index.json; {refused}" in out
    )
    assert f"damaged {planted}: not listed in snapshots/index.json; {refused}" in out
    with pytest.raises(CacheError, match="does not match its recorded size and sha256"):
        load_snapshot(folder, spec, 1)
    assert load_snapshot(folder, spec, 2) is not None
