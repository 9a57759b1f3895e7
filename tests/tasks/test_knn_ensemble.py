"""KNN on an ensemble: one KNN per member and a majority vote, never a pool of unrelated latent spaces.

`TwoSpaces` is a fake 2-member method on the synthetic 4-class set: member 0 embeds x by its correlation with
the four training class means (well separated), member 1 by the same embedding rotated by 180 degrees
(z -> -z): the same information in an unrelated coordinate system. Pooled (the method hides its member
indices), a point's mean latent over the two members is exactly 0, so KNN is at chance; voted, each member's
KNN is accurate on its own space.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.neighbors import KNeighborsClassifier

import tasks
from harness.datasets import Dataset
from methods.base import Method, ModelSpec, Samples
from tasks.base import EvalContext
from tasks.knn_fit import majority_vote


class TwoSpaces(Method):
    key = "two_spaces"

    def __init__(self, data, with_members: bool = True):
        super().__init__(ModelSpec("two_spaces"), data.image_shape)
        self.means = torch.stack(
            [data.train_x[data.train_y == c].mean(0).flatten() for c in range(4)]
        )
        self.with_members = with_members
        self.fitted_ = True

    def _embed(self, x, member):
        z = x.flatten(1) @ self.means.T
        return z if member == 0 else -z

    def sample(self, x, n, *, seed=0, member=None):
        members = torch.arange(n) % 2 if member is None else torch.full((n,), member)
        latents = torch.stack([self._embed(x, int(m)) for m in members])
        return Samples(
            latents=latents,
            recon=x.expand(n, *x.shape).clone(),
            member=members if self.with_members else None,
        )


def run_knn(method, data, tmp_path, **params):
    ctx = EvalContext(
        experiment="test",
        method_label="two_spaces",
        method=method,
        data=data,
        extra_data={},
        point={},
        seed=0,
        device=torch.device("cpu"),
        artifact_dir=tmp_path / "artifacts",
    )
    task = tasks.get("knn")({"labels_per_class": [2, 5], "repetitions": 2, "n_embed": 4, **params})
    return {r["metric"]: r["value"] for r in task.evaluate(ctx)}


def test_vote_over_members_beats_pooling(data, tmp_path):
    voted = run_knn(TwoSpaces(data), data, tmp_path / "voted")
    pooled = run_knn(TwoSpaces(data, with_members=False), data, tmp_path / "pooled")
    assert set(voted) == {
        "accuracy/n=2",
        "accuracy/n=5",
        "member_accuracy/n=2",
        "member_accuracy/n=5",
    }
    assert set(pooled) == {"accuracy/n=2", "accuracy/n=5"}
    for n in (2, 5):
        assert pooled[f"accuracy/n={n}"] < 0.4  # chance is 0.25 on four balanced classes
        assert voted[f"accuracy/n={n}"] > 0.9
        assert voted[f"member_accuracy/n={n}"] > 0.9


def test_multilabel_ensemble_votes_per_attribute(data, tmp_path):
    def attrs(y):
        return torch.stack([y % 2, y // 2], 1)

    multi = Dataset(
        "multi",
        data.train_x,
        attrs(data.train_y),
        data.val_x,
        attrs(data.val_y),
        data.test_x,
        attrs(data.test_y),
        label_names=["Odd", "High"],
    )
    got = run_knn(TwoSpaces(data), multi, tmp_path, labels_multilabel=20)
    assert set(got) == {
        "accuracy/Odd",
        "accuracy/High",
        "accuracy/overall",
        "member_accuracy/overall",
    }
    assert all(0 <= v <= 1 for v in got.values())


def test_majority_vote_hand_worked():
    # three members on a 1-D embedding, labelled points at 0, 1 (class 0) and 10, 11 (class 1), k = 1
    x_lab, y_lab = np.array([[0.0], [1.0], [10.0], [11.0]]), np.array([0, 0, 1, 1])
    knns = [KNeighborsClassifier(n_neighbors=1).fit(x_lab, y_lab) for _ in range(3)]
    # point A: members say 0, 1, 1 -> 1; point B: members say 0, 0, 1 -> 0
    z_eval = [np.array([[0.5], [0.2]]), np.array([[10.5], [0.8]]), np.array([[10.2], [10.9]])]
    assert majority_vote(knns, z_eval).tolist() == [1, 0]
    # ties between two members (k = 3; class 0 labelled at 0, 1, 2 and class 1 at 10, 11, 12), broken by the
    # predicted probability summed over members
    x_lab, y_lab = (
        np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0]]),
        np.array([0, 0, 0, 1, 1, 1]),
    )
    knns = [KNeighborsClassifier(n_neighbors=3).fit(x_lab, y_lab) for _ in range(2)]
    # member 0 at 5.8: neighbours 2, 10, 1 -> P = (2/3, 1/3), says 0; member 1 at 11.1: 11, 10|12 -> (0, 1), says 1
    # sums: class 0 2/3, class 1 4/3 -> 1
    z_eval = [np.array([[5.8]]), np.array([[11.1]])]
    assert [k.predict(z)[0] for k, z in zip(knns, z_eval)] == [0, 1]
    assert majority_vote(knns, z_eval).tolist() == [1]
    # member 0 at 0.5: 0, 1, 2 -> (1, 0), says 0; member 1 at 6.2: 10, 2, 11 -> (1/3, 2/3), says 1
    # sums: class 0 4/3, class 1 2/3 -> 0
    z_eval = [np.array([[0.5]]), np.array([[6.2]])]
    assert [k.predict(z)[0] for k, z in zip(knns, z_eval)] == [0, 1]
    assert majority_vote(knns, z_eval).tolist() == [0]
