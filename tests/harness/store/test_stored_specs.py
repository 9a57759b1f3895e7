"""`ModelCache.stored_specs`: what a benchmark reading a store sees (each model under the code it was trained by)."""

from __future__ import annotations

import json

from harness.store.models import ModelCache
from methods import ModelSpec
from methods.tiny import TINY_MODEL, TINY_TRAIN, fit_tiny


def test_stored_specs_load_models_trained_by_other_code_and_skip_bad_entries(tmp_path, data):
    cache = ModelCache(tmp_path / "models")
    base = dict(data={"train": {"name": "synthetic"}}, model=TINY_MODEL, train=TINY_TRAIN)
    ae = fit_tiny(ModelSpec(method="ae", seed=0, **base), data)
    old = ModelSpec(
        method="ae", seed=1, code="0123456789abcdef", **base
    )  # trained by code since edited
    old_ae = fit_tiny(old, data)
    for method in (ae, old_ae):
        cache.save(method)
    broken = fit_tiny(ModelSpec(method="ae", seed=2, **base), data)
    cache.save(broken).write_bytes(b"torn")  # not a verified entry: not listed

    found = cache.stored_specs()
    assert sorted((s.seed, s.key) for s in found) == sorted([(0, ae.spec.key), (1, old.key)])
    assert old.key != ModelSpec(method="ae", seed=1, **base).key  # the code is part of the key
    for spec in found:
        assert cache.load(spec).spec.key == spec.key
    assert cache.stored_specs(("vae",)) == []
    assert json.loads((cache.folder(old) / "entry.json").read_text())["code"] == "0123456789abcdef"
