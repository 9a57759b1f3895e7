"""Ensemble member indices (`Samples.member`, `Ensemble.sample(..., member=m)`) and imputation chains that keep
their member: chain i stays with the member that started it and the chains use every member (before the fix,
`sample(y, 1)` returned member 0 for every chain after the first pass). Untrained tiny members: seconds.
"""

from __future__ import annotations

import pytest
import torch

import methods
from methods.base import ModelSpec, Samples
from tasks.imputation import impute, observed_mask

SIZE = 3


@pytest.fixture(scope="module")
def ensemble(data):
    spec = ModelSpec(
        "ensemble", params={"size": SIZE}, model={"arch": "mlp", "latent_dim": 2, "hidden": [16, 8]}
    )
    ens = methods.get("ensemble")(spec, data.image_shape)
    torch.manual_seed(0)
    ens.build()  # random, distinct members: what matters here is which member answers, not how well
    ens.fitted_ = True
    return ens


def test_samples_carry_member_indices(ensemble, data):
    x = data.test_x[:5]
    out = ensemble.sample(x, 7)
    assert out.member.tolist() == [0, 1, 2, 0, 1, 2, 0]
    for i in range(7):
        alone = ensemble.sample(x, 2, member=i % SIZE)
        assert alone.member.tolist() == [i % SIZE] * 2
        assert torch.equal(alone.recon[1], out.recon[i]) and torch.equal(
            alone.latents[0], out.latents[i]
        )
    assert not torch.allclose(out.recon[0], out.recon[1])  # members differ
    for bad in (SIZE, -1, 1.0, True):
        with pytest.raises(ValueError, match="member"):
            ensemble.sample(x, 1, member=bad)
    with pytest.raises(ValueError, match="member"):
        Samples(
            latents=torch.zeros(2, 1, 2),
            recon=torch.zeros(2, 1, 1, 8, 8),
            member=torch.zeros(3, dtype=torch.long),
        )


class Spy:
    """Forwards to a method and records (n, member asked for, members returned) of every `sample` call."""

    def __init__(self, method):
        self.method, self.calls = method, []

    def sample(self, x, n, *, seed=0, **kwargs):
        out = self.method.sample(x, n, seed=seed, **kwargs)
        self.calls.append((n, kwargs.get("member"), out.member.tolist()))
        return out


def test_each_chain_stays_with_one_member_and_all_members_are_used(ensemble, data):
    n_first, n_iterations, n_refine = 4, 3, 2
    x = data.test_x[:6]
    spy = Spy(ensemble)
    imputations = impute(
        spy,
        x,
        observed_mask(data.image_shape, "upper_half"),
        n_first=n_first,
        n_refine=n_refine,
        n_iterations=n_iterations,
        seed=0,
        noise=torch.rand(x.shape),
    )
    assert imputations.shape == (n_first, *x.shape)
    assert spy.calls[0] == (
        n_first,
        None,
        [0, 1, 2, 0],
    )  # stage 1 starts chain i with member i % SIZE
    per_chain = (
        1 + (n_iterations - 1) + n_iterations
    )  # first sample, stage 1 passes, stage 2 passes
    members_used = set()
    for i in range(n_first):
        calls = spy.calls[1 + i * (per_chain - 1) : 1 + (i + 1) * (per_chain - 1)]
        stage1, stage2 = calls[: n_iterations - 1], calls[n_iterations - 1 :]
        assert [c[0] for c in stage1] == [1] * (n_iterations - 1)
        returned = {m for c in stage1 for m in c[2]}
        assert returned == {i % SIZE}, f"chain {i} used members {returned}"
        members_used |= returned
        assert all(
            c[0] == n_refine and c[1] is None for c in stage2
        )  # stage 2 averages over members
    assert members_used == set(range(SIZE))


def test_chain_is_its_members_own_iteration(ensemble, data):
    """Values, not just calls: with n_iterations = 2 and n_refine = SIZE, chain i is
    R(R(M_i(M_i(noise)))), M_i = member i's clamped map and R = the clamped mean over all members."""
    x = data.test_x[:4]
    observed = observed_mask(data.image_shape, "upper_half")
    noise = torch.rand(x.shape)

    def clamp(y):
        return torch.where(observed, x, y)

    def member_map(y, i):
        return clamp(ensemble.sample(y, 1, member=i).recon[0])

    def refine(y):
        return clamp(
            torch.stack([ensemble.sample(y, 1, member=m).recon[0] for m in range(SIZE)]).mean(0)
        )

    got = impute(
        ensemble, x, observed, n_first=SIZE, n_refine=SIZE, n_iterations=2, seed=0, noise=noise
    )
    for i in range(SIZE):
        expected = refine(refine(member_map(member_map(clamp(noise), i), i)))
        assert torch.allclose(got[i], expected, atol=1e-6)
    assert not torch.allclose(
        got[1], refine(refine(member_map(member_map(clamp(noise), 1), 0))), atol=1e-6
    )
