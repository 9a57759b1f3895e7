"""Tests for the autoencoder methods: sample shapes and spread, checkpoints, dependency reuse, LAE precision.

Every method is trained for two epochs on the 1x8x8 `synthetic` set with a tiny MLP and a tiny conv net;
fitted models are memoised per (method, params, arch) so the module runs in seconds.
"""

from __future__ import annotations

import io

import pytest
import torch

import methods
from harness.execution.context import RunContext
from harness.execution.trials.train import train_model
from harness.store.models import ModelCache
from methods import ModelSpec, get
from methods.ae import AE

ARCHS = {
    "mlp": {"arch": "mlp", "latent_dim": 2, "hidden": [16, 8]},
    "conv": {"arch": "conv", "latent_dim": 2, "channels": [4, 4], "hidden": [16]},
}
TRAIN = {"max_epochs": 2, "batch_size": 64}
ALL = ["ae", "ae_likelihood", "vae", "mc_ae", "ensemble", "lae_posthoc", "lae_online"]
STOCHASTIC = ["vae", "mc_ae", "ensemble", "lae_posthoc", "lae_online"]
CASES = [(name, {}, arch) for name in ALL for arch in ARCHS] + [
    ("lae_posthoc", {"hessian": "exact", "backend": "laplace"}, "mlp"),
    ("lae_posthoc", {"hessian": "kfac"}, "mlp"),
    ("lae_posthoc", {"hessian": "approx"}, "conv"),
    ("lae_online", {"hessian": "approx"}, "conv"),
]
_FITTED: dict[str, methods.Method] = {}


def make_spec(
    name: str, params: dict | None = None, arch: str = "mlp", seed: int = 0, **train
) -> ModelSpec:
    return ModelSpec(
        method=name,
        params=params or {},
        data={"name": "synthetic"},
        model=ARCHS[arch],
        train={**TRAIN, **train},
        seed=seed,
    )


def fit(spec: ModelSpec, data) -> methods.Method:
    """Fit `spec` and (recursively) its dependencies in-process, memoised by spec key."""
    if spec.key not in _FITTED:
        cls = get(spec.method)
        deps = {name: fit(dep, data) for name, dep in cls.dependencies(spec).items()}
        _FITTED[spec.key] = cls(spec, data.image_shape).fit(
            data, dependencies=deps, reporter=lambda m: None
        )
    return _FITTED[spec.key]


def _id(case):
    name, params, arch = case
    return "-".join([name, arch, *(f"{k}={v}" for k, v in params.items())])


def test_all_methods_registered():
    assert set(ALL) <= set(methods.names())


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_sample_shapes_spread_and_checkpoint(case, data):
    name, params, arch = case
    spec = make_spec(name, params, arch)
    method = fit(spec, data)
    x = data.test_x[:6]
    n = 7
    s = method.sample(x, n, seed=3)
    assert s.latents.shape == (n, 6, 2)
    assert s.recon.shape == (n, *x.shape)
    assert s.variance is None or s.variance.shape == s.recon.shape
    assert torch.isfinite(s.recon).all() and torch.isfinite(s.latents).all()

    spread = s.recon.var(0).mean()
    if name in STOCHASTIC:
        assert spread > 0 and s.latents.var(0).mean() > 0
    else:
        assert spread == 0 and s.latents.var(0).max() == 0
    if name in ("ae_likelihood", "vae"):
        assert (s.variance > 0).all()

    # reproducible per seed, and a checkpoint (through torch.save) gives identical samples
    again = method.sample(x, n, seed=3)
    assert torch.equal(again.recon, s.recon) and torch.equal(again.latents, s.latents)
    buffer = io.BytesIO()
    torch.save(method.state_dict(), buffer)
    buffer.seek(0)
    loaded = get(name)(spec, data.image_shape).load_state_dict(
        torch.load(buffer, weights_only=True)
    )
    s2 = loaded.sample(x, n, seed=3)
    assert torch.equal(s2.recon, s.recon) and torch.equal(s2.latents, s.latents)
    if s.variance is not None:
        assert torch.equal(s2.variance, s.variance)
    if name in STOCHASTIC and name != "ensemble":
        assert not torch.equal(method.sample(x, n, seed=4).recon, s.recon)


@pytest.mark.parametrize("case", [c for c in CASES if c[1].get("hessian") != "kfac"], ids=_id)
def test_sample_all_and_embed_give_todays_samples_with_networks_drawn_once(case, data):
    """`sample_all` (networks drawn once per evaluation) equals `sample` per batch with the same seed, and an
    input gets the same samples whatever its batch; `embed` gives `sample`'s latents."""
    name, params, arch = case
    method = fit(make_spec(name, params, arch), data)
    x, n = data.test_x[:10], 4
    per_batch = [method.sample(x[i : i + 4], n, seed=5) for i in range(0, 10, 4)]
    together = list(method.sample_all(x, n, seed=5, batch_size=4))
    assert len(together) == 3
    for a, b in zip(per_batch, together):
        assert torch.allclose(a.recon, b.recon, atol=1e-6) and torch.allclose(
            a.latents, b.latents, atol=1e-6
        )
    embedded = list(method.sample_all(x, n, seed=5, batch_size=4, decode=False))
    for a, b in zip(per_batch, embedded):
        assert torch.allclose(a.latents, b.latents, atol=1e-6)
    if name not in (
        "mc_ae",
        "vae",
    ):  # dropout masks and latent noise are drawn per input; weights are not
        moved = torch.cat(
            [s.recon for s in method.sample_all(x.flip(0), n, seed=5, batch_size=3)], 1
        ).flip(1)
        assert torch.allclose(moved, torch.cat([s.recon for s in together], 1), atol=1e-6)


def test_unfitted_method_raises(data):
    with pytest.raises(methods.NotFittedError):
        get("lae_online")(make_spec("lae_online"), data.image_shape).sample(data.test_x[:2], 2)


# --- dependencies: ensemble members and the post-hoc base are cached `ae` models ------------------------------


def test_ensemble_dependencies_are_plain_aes():
    spec = make_spec("ensemble", {"size": 3}, seed=2)
    deps = get("ensemble").dependencies(spec)
    assert list(deps) == ["member0", "member1", "member2"]
    assert [d.seed for d in deps.values()] == [6, 7, 8]
    assert all(d.method == "ae" and d.params == {} and d.model == spec.model for d in deps.values())
    assert all(get(d.method).dependencies(d) == {} for d in deps.values())  # the graph stops here
    assert (
        get("ensemble").dependencies(make_spec("ensemble", {"size": 3}, seed=3))["member0"].seed
        == 9
    )


@pytest.mark.parametrize(
    "name,params", [("ensemble", {"size": 3}), ("lae_posthoc", {"hessian": "exact"})]
)
def test_dependent_reuses_cached_ae(name, params, tmp_path, monkeypatch):
    common = RunContext(models_dir=str(tmp_path / "models"))
    spec = make_spec(name, params)
    deps = get(name).dependencies(spec)
    for dep in deps.values():  # as the harness does: dependencies first, as their own trials
        train_model(dep, common, torch.device("cpu"), report=lambda m: None)
    cache = ModelCache(common.models_dir)
    before = sorted(p.name for p in cache.root.iterdir())

    def no_training(*args, **kwargs):
        raise AssertionError("an `ae` was trained while fitting a dependent method")

    monkeypatch.setattr(AE, "_fit", no_training)
    train_model(spec, common, torch.device("cpu"), report=lambda m: None)
    after = sorted(p.name for p in cache.root.iterdir())
    assert after == sorted(before + [spec.key])

    dependent = cache.load(spec)
    for dep_name, dep_spec in deps.items():
        member = cache.load(dep_spec)
        prefix = f"{dep_name}_" if name == "ensemble" else ""
        for part in ("encoder", "decoder"):
            ours = dependent.nets[f"{prefix}{part}"].state_dict()
            for key, value in getattr(member, part).state_dict().items():
                assert torch.equal(ours[key], value)


def test_dependent_without_dependencies_raises(data):
    for name in ("ensemble", "lae_posthoc"):
        with pytest.raises(ValueError, match="dependencies"):
            get(name)(make_spec(name), data.image_shape).fit(data, reporter=lambda m: None)


# --- lae_posthoc ---------------------------------------------------------------------------------------------


def test_posthoc_curvature_matches_laplace_torch(data):
    ours = fit(make_spec("lae_posthoc", {"hessian": "exact", "prior_precision": 2.0}), data)
    theirs = fit(
        make_spec(
            "lae_posthoc", {"hessian": "exact", "backend": "laplace", "prior_precision": 2.0}
        ),
        data,
    )
    torch.testing.assert_close(ours.precision_, theirs.precision_, rtol=1e-4, atol=1e-4)
    assert ours.prior_precision_ == theirs.prior_precision_ == 2.0


def test_posthoc_optimised_prior_is_a_maximum(data):
    from methods.laplace_common import flatten, log_marginal_likelihood

    method = fit(make_spec("lae_posthoc", {"hessian": "exact", "prior_selection": "marglik"}), data)
    prior = method.prior_precision_
    assert method.prior_marglik_ == prior and method.prior_source_ == "marglik"
    ggn = method.precision_ - prior
    sq = float(flatten([p.detach() for p in method.network.parameters()]).double().square().sum())
    best = log_marginal_likelihood(0.0, sq, ggn, prior)
    assert best >= log_marginal_likelihood(0.0, sq, ggn, prior * 1.1)
    assert best >= log_marginal_likelihood(0.0, sq, ggn, prior / 1.1)


def test_prior_precision_optimiser_finds_the_evidence_maximum():
    """Newton on the evidence's (monotone) derivative: the optimum of a dense log-grid, or the range's ends."""
    import math

    from methods.laplace_common import log_marginal_likelihood, optimise_prior_precision

    torch.manual_seed(0)
    grid = [10.0 ** (-6 + 12 * i / 2000) for i in range(2001)]
    for scale, sq_norm in ((100.0, 123.0), (1e-3, 5.0), (1e4, 1e-3)):
        h = torch.rand(3000, dtype=torch.float64) ** 3 * scale
        best = optimise_prior_precision(sq_norm, h)
        on_grid = max(grid, key=lambda p: log_marginal_likelihood(0.0, sq_norm, h, p))
        assert abs(math.log10(best) - math.log10(on_grid)) <= 12 / 2000
        assert log_marginal_likelihood(0.0, sq_norm, h, best) >= log_marginal_likelihood(
            0.0, sq_norm, h, on_grid
        )
    h = torch.rand(100, dtype=torch.float64)
    assert optimise_prior_precision(0.0, h) == pytest.approx(
        1e6
    )  # ||theta|| = 0: the evidence keeps rising
    assert optimise_prior_precision(10.0, torch.zeros(100)) == pytest.approx(
        1e-6
    )  # no curvature: keeps falling


def test_posthoc_rejects_bad_settings():
    with pytest.raises(ValueError, match="arch 'mlp' only"):
        get("lae_posthoc").dependencies(make_spec("lae_posthoc", {"hessian": "kfac"}, "conv"))
    with pytest.raises(ValueError, match="hessian must be one of"):
        get("lae_posthoc").validate_params({"hessian": "full"})
    with pytest.raises(ValueError, match="backend 'laplace'"):
        get("lae_posthoc").validate_params({"backend": "laplace", "hessian": "mix"})


# --- lae_online ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", list(ARCHS))
def test_online_precision_nonnegative_and_updated(arch, data):
    method = fit(make_spec("lae_online", {}, arch), data)
    h = torch.cat(
        [p.flatten() for p in method.precision_]
    )  # the data term H; the prior is added when sampling
    assert torch.isfinite(h).all() and (h >= 0).all()
    assert method.n_train_ == len(data.train_x)
    assert h.max() > 0  # the GGN was added (H_0 = 0 by default: the paper's q_0 = N(0, prior^-1))
    history = method.history_
    keys = {
        "precision_min",
        "precision_max",
        "posterior/frac_within_2x_init",
        "posterior/sigma_median",
    }
    assert all(keys <= set(r) for r in history)
    assert all(0 < r["precision_min"] <= r["precision_max"] for r in history)
    assert all(
        r["posterior/sigma_min"] <= r["posterior/sigma_median"] <= r["posterior/sigma_max"] <= 1.0
        for r in history
    )  # prior 1: no weight is looser than the prior


@pytest.mark.parametrize("value", [-1e6, float("nan"), float("inf")])
def test_online_bad_precision_stops_training(value, data, monkeypatch):
    import methods.curvature as curvature

    monkeypatch.setattr(
        curvature,
        "diag_ggn",
        lambda model, x, mode, **kw: [torch.full_like(p, value) for p in model.parameters()],
    )
    method = get("lae_online")(make_spec("lae_online", {"hessian": "exact"}), data.image_shape)
    with pytest.raises(
        FloatingPointError, match="precision became non-finite or negative after training step 1"
    ):
        method.fit(data, reporter=lambda m: None)


def test_online_rejects_bad_params():
    with pytest.raises(ValueError, match="alpha"):
        get("lae_online").validate_params({"alpha": 1.5})
    with pytest.raises(ValueError, match="Unknown parameter"):
        get("lae_online").validate_params({"samples": 3})


@pytest.mark.parametrize("samples", [1, 2])
def test_online_ggn_reuses_the_training_forward(data, monkeypatch, samples):
    """after_step's GGN comes from the loss's own (recorded) forward and equals a fresh diag_ggn at the same
    sampled weights, each weight sample's from its own forward; H is updated as (1 - alpha) H + N / B * GGN,
    the GGN averaged over the samples."""
    import methods.curvature as curvature
    from methods.laplace_common import flatten

    params = {"hessian": "mix", "threshold": 20, "alpha": 0.25, "train_samples": samples}
    spec = make_spec("lae_online", params, "conv")
    method = get("lae_online")(spec, data.image_shape)
    method.n_train_ = 100
    method.build()
    assert get("lae_online").default_params["threshold"] == curvature.DEFAULT_THRESHOLD
    x = data.train_x[:8]
    real, fresh = curvature.diag_ggn, []

    def spy(model, xb, mode, **kw):
        assert kw.get("activations") is not None and len(kw["activations"].outputs) > 0
        fresh.append(
            real(model, xb, mode, threshold=kw["threshold"])
        )  # its own forward, same weights
        return real(model, xb, mode, **kw)

    monkeypatch.setattr(curvature, "diag_ggn", spy)
    before = flatten(method.precision_).clone()
    method.training_loss(x).backward()
    method.after_step(x)
    assert len(fresh) == samples
    mean_ggn = sum(flatten(g) for g in fresh) / samples
    if samples == 2:  # two different weight samples: two different GGNs
        assert not torch.allclose(flatten(fresh[0]), flatten(fresh[1]))
    expected = 0.75 * before + 100 / len(x) * mean_ggn  # ggn_scale 1 (paper eq. 65)
    torch.testing.assert_close(flatten(method.precision_), expected, rtol=1e-5, atol=1e-6)
    assert method._records == [] and method._thetas == []  # activations released after the update


def test_online_default_runs_on_the_paper_conv_ae():
    """The paper's conv AE (1x28x28, 17M weights) with the default Hessian ("mix", threshold 1024) and the
    harness batch size takes a training step without a quadratic [B, D, D] matrix (it used to need 90 GB)."""
    spec = ModelSpec(
        method="lae_online",
        params={},
        data={"name": "synthetic"},
        model={"arch": "conv", "latent_dim": 2},
        train=TRAIN,
        seed=0,
    )
    method = get("lae_online")(spec, (1, 28, 28))
    method.n_train_ = 60000
    method.build()
    x = torch.rand(64, 1, 28, 28)
    method.training_loss(x).backward()
    method.after_step(x)
    h = torch.cat([p.flatten() for p in method.precision_])
    assert torch.isfinite(h).all() and (h >= 0).all() and h.max() > 0
