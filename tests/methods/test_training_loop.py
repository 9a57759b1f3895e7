"""The shared training loop's saving: resume checkpoints by time, at the end and on an interrupt (the last
finished epoch, continued exactly), nothing rebuildable written, snapshots every k epochs, and saving settings
that stay out of a model's key."""

from __future__ import annotations

import pytest
import torch

from laebench.checkpoints import load_checkpoint
from methods import get as get_method
from methods.base import ModelSpec

TRAIN = {"max_epochs": 4, "batch_size": 32, "early_stopping": 8}


def _spec(**train) -> ModelSpec:
    return ModelSpec(
        method="lae_online",
        data={"train": "synthetic"},
        model={"arch": "mlp", "latent_dim": 2, "hidden": [8]},
        train={**TRAIN, **train},
        seed=3,
    )


def _fit(data, spec, path=None, snapshot=None, reporter=None):
    method = get_method(spec.method)(spec, data.image_shape)
    return method.fit(data, checkpoint_path=path, snapshot=snapshot, reporter=reporter)


def _weights(method) -> list[torch.Tensor]:
    state = method.state_dict()
    return [t for m in state["modules"].values() for t in m.values()] + [
        state["extra"]["precision"]
    ]


class Stop(Exception):
    pass


def test_an_interrupted_training_resumes_exactly_from_its_last_finished_epoch(data, tmp_path):
    whole = _fit(data, _spec())
    path = tmp_path / "partial.pt"

    def stop_after_two(record):  # the trial is stopped while reporting epoch 2
        if record["epoch"] == 2:
            raise Stop

    with pytest.raises(Stop):
        _fit(data, _spec(), path, reporter=stop_after_two)
    saved = load_checkpoint(path)  # nothing was due by time: written on the way out
    assert saved["loop"]["epoch"] == 2
    resumed = _fit(data, _spec(), path)
    assert [h["epoch"] for h in resumed.history_] == [1, 2, 3, 4]
    for a, b in zip(_weights(whole), _weights(resumed)):
        assert torch.equal(a, b)  # bitwise: the same batches and optimiser state


def test_checkpoints_follow_time_and_skip_what_can_be_rebuilt(data, tmp_path, monkeypatch):
    import methods.training as training

    writes = []
    real = training._Checkpointer.write
    monkeypatch.setattr(
        training._Checkpointer,
        "write",
        lambda self, state: (writes.append(state), real(self, state)),
    )
    path = tmp_path / "partial.pt"
    _fit(data, _spec(), path)  # default: every 5 minutes, so only at the end
    assert len(writes) == 1 and writes[0]["loop"]["epoch"] == 4
    writes.clear()
    _fit(data, _spec(checkpoint_minutes=1e-9), tmp_path / "every.pt")  # due after every epoch
    assert [w["loop"]["epoch"] for w in writes] == [1, 2, 3, 4, 4]
    for w in writes:  # the best epoch's weights only when they are not the current ones
        loop = w["loop"]
        assert (loop["best_state"] is None) == (loop["best_epoch"] == loop["epoch"])


def test_snapshots_every_k_epochs_are_the_weights_of_that_epoch(data, tmp_path):
    got = {}
    _fit(
        data,
        _spec(snapshot_every=2, max_epochs=5),
        snapshot=lambda epoch, state: got.setdefault(
            epoch, [t.clone() for m in state["modules"].values() for t in m.values()]
        ),
    )
    assert sorted(got) == [2, 4]

    def stop_after_two(record):
        if record["epoch"] == 2:
            raise Stop

    with pytest.raises(
        Stop
    ):  # the same run, stopped after epoch 2: its checkpoint holds that epoch
        _fit(data, _spec(max_epochs=5), tmp_path / "p.pt", reporter=stop_after_two)
    at_two = load_checkpoint(tmp_path / "p.pt")["model"]["modules"]
    for a, b in zip(got[2], [t for m in at_two.values() for t in m.values()]):
        assert torch.equal(a, b)


def test_saving_settings_are_not_part_of_the_model_key():
    assert _spec().key == _spec(checkpoint_minutes=1.0, snapshot_every=2).key
    assert _spec().key != _spec(max_epochs=5).key
