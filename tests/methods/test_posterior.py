"""The Laplace posteriors' conventions: what a weight the data never constrains keeps, what a constrained one
gets, the online update's parameters, the post-hoc prior search, and the posterior-health figures.

A pixel that is zero in every image makes the first Linear layer's weights on it unconstrained: their
Jacobian is x_j = 0, so their GGN is exactly 0 and their posterior must stay at the prior.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from harness.datasets import load_dataset
from methods import ModelSpec, get
from methods.laplace_common import posterior_health

MLP = {"arch": "mlp", "latent_dim": 2, "hidden": [16, 8]}
DEAD = (0, 0, 0)  # (channel, row, col) of the always-zero pixel


@pytest.fixture(scope="module")
def data():
    d = load_dataset("synthetic")

    def zero(x):
        x = x.clone()
        x[:, DEAD[0], DEAD[1], DEAD[2]] = 0.0
        return x

    return dataclasses.replace(
        d, train_x=zero(d.train_x), val_x=zero(d.val_x), test_x=zero(d.test_x)
    )


def fit_online(data, **params):
    spec = ModelSpec(
        method="lae_online",
        params=params,
        data={"name": "synthetic"},
        model=MLP,
        train={"max_epochs": 2, "batch_size": 64},
        seed=0,
    )
    return get("lae_online")(spec, data.image_shape).fit(data, reporter=lambda m: None)


def first_layer_sigma(method) -> torch.Tensor:
    """Posterior std of the first Linear layer's weight matrix [out, in] (input = flattened pixels)."""
    return method._std[0]


def test_unconstrained_weight_keeps_the_prior_and_constrained_ones_shrink(data):
    prior = 4.0
    method = fit_online(data, prior_precision=prior)
    sigma = first_layer_sigma(method)
    dead = sigma[:, 0]  # the always-zero pixel is input 0 of the flattened image
    assert method.step_ > 0
    torch.testing.assert_close(dead, torch.full_like(dead, prior**-0.5), rtol=0, atol=0)
    live = sigma[:, 1:]
    assert (live < prior**-0.5).all()  # every weight on a pixel with ink saw curvature
    assert float(live.median()) < 0.75 * prior**-0.5


def test_authors_initial_precision_fades_geometrically(data):
    """initial_precision 'n_prior' (the authors' H_0 = N * prior): an unconstrained weight has
    H_T = N prior (1 - alpha)^T after T steps and is sampled with H_T + prior."""
    prior, alpha = 2.0, 0.01
    method = fit_online(data, prior_precision=prior, alpha=alpha, initial_precision="n_prior")
    n, steps = method.n_train_, method.step_
    expected = (n * prior * (1 - alpha) ** steps + prior) ** -0.5
    dead = first_layer_sigma(method)[:, 0]
    torch.testing.assert_close(dead, torch.full_like(dead, expected), rtol=1e-5, atol=0)


def test_ggn_scale_multiplies_the_update(data, monkeypatch):
    """H <- (1 - alpha) H + ggn_scale * N / B * GGN: the authors' 0.5 halves every increment."""
    import methods.curvature as curvature

    ones = lambda model, x, mode, **kw: [torch.ones_like(p) for p in model.parameters()]
    monkeypatch.setattr(curvature, "diag_ggn", ones)
    spec = ModelSpec(
        method="lae_online",
        params={"ggn_scale": 0.5, "alpha": 0.1},
        data={"name": "synthetic"},
        model=MLP,
        train={},
        seed=0,
    )
    method = get("lae_online")(spec, data.image_shape)
    method.n_train_ = 100
    method.build()
    x = data.train_x[:10]
    for step in range(2):
        method.training_loss(x).backward()
        method.after_step(x)
    h = method.precision_[0]
    increment = 0.5 * 100 / 10
    torch.testing.assert_close(h, torch.full_like(h, 0.9 * increment + increment))


def test_posterior_health_on_hand_worked_numbers():
    precision = torch.tensor([1.0, 2.0, 2.5, 4.0, 100.0])  # initial 1: within 2x are 1.0 and 2.0
    health = posterior_health(precision, 1.0)
    assert health["posterior/frac_within_2x_init"] == pytest.approx(2 / 5)
    assert health["posterior/sigma_max"] == pytest.approx(1.0)
    assert health["posterior/sigma_min"] == pytest.approx(0.1)
    assert health["posterior/sigma_median"] == pytest.approx(2.5**-0.5)


def test_online_diagnostics_report_an_untouched_posterior():
    """Before any step every weight is at its initial precision: the share within 2x is 1."""
    spec = ModelSpec(
        method="lae_online",
        params={"initial_precision": "n_prior"},
        data={"name": "synthetic"},
        model=MLP,
        train={},
        seed=0,
    )
    method = get("lae_online")(spec, (1, 8, 8))
    method.n_train_ = 50
    method.build()
    d = method.diagnostics()
    assert d["posterior/frac_within_2x_init"] == 1.0
    assert d["posterior/sigma_max"] == pytest.approx(51**-0.5)


def _fit_posthoc(data, **params):
    train = {"max_epochs": 2, "batch_size": 64}
    ae_spec = ModelSpec(
        method="ae", params={}, data={"name": "synthetic"}, model=MLP, train=train, seed=0
    )
    ae = get("ae")(ae_spec, data.image_shape).fit(data, reporter=lambda m: None)
    spec = ModelSpec(
        method="lae_posthoc",
        params={"hessian": "exact", **params},
        data={"name": "synthetic"},
        model=MLP,
        train=train,
        seed=0,
    )
    return get("lae_posthoc")(spec, data.image_shape).fit(
        data, dependencies={"ae": ae}, reporter=lambda m: None
    )


def test_posthoc_prior_search_makes_sampled_networks_usable(data):
    tol = 0.05
    marglik = _fit_posthoc(data, prior_selection="marglik")
    searched = _fit_posthoc(data, prior_selection="val_sampled", val_tolerance=tol)
    trail = searched.history_[0]["prior_search"]
    assert searched.prior_marglik_ == pytest.approx(marglik.prior_precision_)
    assert trail[0]["prior_precision"] == pytest.approx(
        marglik.prior_precision_
    )  # starts at the evidence max
    assert searched.prior_precision_ >= marglik.prior_precision_
    chosen = trail[-1]
    assert chosen["accepted"] and chosen["prior_precision"] == pytest.approx(
        searched.prior_precision_
    )
    assert chosen["val_mse_sampled"] <= (1 + tol) * chosen["val_mse_mean_net"]
    assert all(not t["accepted"] for t in trail[:-1])  # the loosest prior that passes is kept
    for t in trail[:-1]:
        assert t["val_mse_sampled"] > (1 + tol) * t["val_mse_mean_net"]
    d = searched.diagnostics()
    assert d["posterior/prior_precision"] == searched.prior_precision_
    assert d["posterior/prior_marglik"] == searched.prior_marglik_
    # the checkpoint keeps the chosen prior and how it was chosen
    state = searched.state_dict()
    assert state["extra"]["prior_source"].startswith("val_sampled")
    assert math.isclose(state["extra"]["prior_marglik"], searched.prior_marglik_)


@pytest.mark.parametrize("backend", ["laebench", "laplace"])
def test_posthoc_mle_noise_divides_the_ggn_by_the_training_mse(data, backend):
    """observation_noise 'mle': the likelihood's variance is the MAP network's training MSE per pixel, so the
    GGN (the data term of the precision) is the unit-noise one divided by it; the prior is unchanged."""
    prior = 3.0
    unit = _fit_posthoc(data, prior_precision=prior, observation_noise="unit", backend=backend)
    mle = _fit_posthoc(data, prior_precision=prior, observation_noise="mle", backend=backend)
    net, x = mle.network, data.train_x
    with torch.no_grad():
        mse = float(((net(x) - x) ** 2).mean())
    assert unit.noise_variance_ == 1.0 and mle.noise_variance_ == pytest.approx(mse, rel=1e-5)
    torch.testing.assert_close(
        mle.precision_ - prior, (unit.precision_ - prior) / mse, rtol=1e-4, atol=1e-6
    )
    assert mle.diagnostics()["posterior/noise_variance"] == pytest.approx(mse, rel=1e-5)
    loaded = get("lae_posthoc")(mle.spec, data.image_shape)
    loaded.load_state_dict(mle.state_dict())
    assert loaded.noise_variance_ == mle.noise_variance_


def test_posthoc_temperature_divides_the_ggn(data):
    """temperature T: precision H / T + prior (a cold posterior for T < 1), for both backends' diagonal."""
    prior = 3.0
    warm = _fit_posthoc(data, prior_precision=prior)
    cold = _fit_posthoc(data, prior_precision=prior, temperature=0.01)
    torch.testing.assert_close(
        cold.precision_ - prior, (warm.precision_ - prior) / 0.01, rtol=1e-4, atol=1e-6
    )
    cold_la = _fit_posthoc(data, prior_precision=prior, temperature=0.01, backend="laplace")
    torch.testing.assert_close(cold_la.precision_, cold.precision_, rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        get("lae_posthoc").validate_params({"temperature": 0})
