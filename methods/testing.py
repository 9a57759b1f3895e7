"""Contract checks for methods (scikit-learn's `check_estimator`, for `methods.Method`): `check_method(cls)`.

Checks a registered method class on `data` (default: the generated `synthetic` set) with a tiny network
trained for one epoch: registration and parameter validation; `sample` refuses an unfitted model; sample
shapes (latents `[n, B, K]`, reconstructions and variances `[n, B, C, H, W]`, finite; a variance is positive and
is the predicted likelihood variance, not the samples' spread, which tasks add themselves); a deterministic method
(`stochastic = False`) returns n identical samples and a stochastic one does not; one seed gives the same
samples (another seed need not give others: an ensemble's samples are its members); fitting the same spec
twice gives the same model; and the checkpoint (`state_dict` through `torch.save` / `torch.load`, as the model
cache stores it) gives the same samples. Models the method depends on (`dependencies`) are trained first, as the
harness does. Failures raise AssertionError naming the method and the broken rule. Running the fitted method
through every task is `tasks.testing.check_method_in_tasks` (tasks sit a floor above methods).
"""

from __future__ import annotations

import io

import torch

from laebench.checkpoints import CheckpointError, load_checkpoint
from laebench.contracts import check_registered_class, require
from laebench.datasets import synthetic

from .base import Method, ModelSpec, NotFittedError, Samples
from .registry import METHODS
from .tiny import TINY_MODEL, TINY_TRAIN, fit_tiny


def check_method(
    cls: type[Method],
    data=None,
    *,
    params: dict | None = None,
    model: dict | None = None,
    train: dict | None = None,
    n: int = 3,
) -> Method:
    """Check a registered method class against the `Method` contract; returns the fitted tiny model.

    Raises AssertionError naming what fails.

    Args:
        cls: the method class (registered with `methods.register`).
        data: a `harness.datasets.Dataset` to train and evaluate on (default: the tiny generated `synthetic` set).
        params: the method's parameters (default: its defaults); `model`, `train`: the architecture and
            training settings (default `TINY_MODEL`, `TINY_TRAIN`: a tiny MLP, one epoch).
        n: samples per `sample` call.
    """
    where = check_registered_class(cls, Method, METHODS)
    if data is None:
        data = synthetic()  # generated: no files, no network
    spec = ModelSpec(
        cls.key,
        dict(params or {}),
        {"name": data.name},
        dict(model or TINY_MODEL),
        dict(train or TINY_TRAIN),
        seed=0,
    )
    x = data.test_x[:5]
    _check_refuses_unfitted(where, cls, spec, data.image_shape, x, n)
    fitted: dict = {}
    method = fit_tiny(spec, data, fitted)
    s = method.sample(x, n, seed=1)
    _check_samples(where, s, x, n, spec.model.get("latent_dim"))
    _check_stochastic(where, cls, s, n)
    require(
        _same(s, method.sample(x, n, seed=1)), f"{where}: two sample calls with one seed differ."
    )
    refit = fit_tiny(spec, data, {k: v for k, v in fitted.items() if k != spec.key})
    require(
        _same(s, refit.sample(x, n, seed=1)),
        f"{where}: fitting one spec (seed {spec.seed}) twice gives "
        "different models: seed every random draw in fit from torch's global generator.",
    )
    _check_checkpoint(where, cls, spec, method, data.image_shape, x, s, n)
    return method


def _check_refuses_unfitted(
    where: str, cls: type[Method], spec: ModelSpec, image_shape, x, n: int
) -> None:
    """`sample` on an unfitted model raises `NotFittedError`."""
    try:
        cls(spec, image_shape).sample(x, n)
    except NotFittedError:
        pass
    else:
        raise AssertionError(f"{where}: sample before fit must raise methods.NotFittedError.")


def _check_stochastic(where: str, cls: type[Method], s: Samples, n: int) -> None:
    """A stochastic method's n samples differ somewhere; a deterministic one's are identical."""
    spread = max(float(s.recon.var(0).max()), float(s.latents.var(0).max())) if n > 1 else 0.0
    if cls.stochastic:
        require(spread > 0, f"{where}: stochastic = True, but its {n} samples are identical.")
    else:
        require(spread == 0, f"{where}: stochastic = False, but its {n} samples differ.")


def _check_checkpoint(
    where: str,
    cls: type[Method],
    spec: ModelSpec,
    method: Method,
    image_shape,
    x,
    s: Samples,
    n: int,
) -> None:
    """The fitted `method`'s checkpoint, saved and loaded as the model cache does (weights only), gives the
    same samples `s` of x."""
    buffer = io.BytesIO()
    torch.save({"state": method.state_dict(), "image_shape": list(image_shape)}, buffer)
    try:
        blob = load_checkpoint(buffer.getvalue(), map_location="cpu", name=f"{where}'s checkpoint")
    except CheckpointError as exc:
        raise AssertionError(
            f"{exc}. laebench reads checkpoints with weights_only=True: keep state_dict() to "
            "tensors and plain values (or allow-list a class with "
            "torch.serialization.add_safe_globals)."
        ) from None
    loaded = cls(spec, tuple(blob["image_shape"]))
    require(
        loaded.load_state_dict(blob["state"]) is loaded,
        f"{where}: load_state_dict must return self.",
    )
    require(
        _same(s, loaded.sample(x, n, seed=1)),
        f"{where}: a checkpoint round trip (state_dict, torch.save, "
        "load_state_dict) changes the samples: keep everything sample needs in modules() / extra_state().",
    )


def _check_samples(where: str, s, x: torch.Tensor, n: int, latent_dim) -> None:
    require(
        isinstance(s, Samples),
        f"{where}: sample must return methods.Samples. Got {type(s).__name__}.",
    )
    require(
        tuple(s.recon.shape) == (n, *x.shape),
        f"{where}: recon must be [n, B, C, H, W] = {(n, *x.shape)}. Got {tuple(s.recon.shape)}.",
    )
    require(
        s.latents.shape[:2] == (n, len(x))
        and (latent_dim is None or s.latents.shape[2] == latent_dim),
        f"{where}: latents must be [n, B, latent_dim] = {(n, len(x), latent_dim)}. Got {tuple(s.latents.shape)}.",
    )
    require(
        s.variance is None or s.variance.shape == s.recon.shape,
        f"{where}: variance must be None or shaped "
        f"like recon. Got {None if s.variance is None else tuple(s.variance.shape)}.",
    )
    require(
        s.variance is None or bool((s.variance > 0).all()),
        f"{where}: variance must be positive (it is the "
        f"predicted likelihood variance, the Gaussian's sigma^2 per pixel); got values <= 0.",
    )
    if s.variance is not None and n > 1 and bool((s.recon.var(0) > 0).any()):
        spread = s.recon.var(0, unbiased=False).unsqueeze(0).expand_as(s.variance)
        require(
            not (
                torch.allclose(s.variance, spread, rtol=1e-3, atol=1e-8)
                or torch.allclose(
                    s.variance,
                    s.recon.var(0).unsqueeze(0).expand_as(s.variance),
                    rtol=1e-3,
                    atol=1e-8,
                )
            ),
            f"{where}: Samples.variance equals the spread of the {n} reconstructions: it must be the predicted "
            f"likelihood variance (or None); tasks add the samples' spread themselves.",
        )
    for name in ("latents", "recon", "variance"):
        t = getattr(s, name)
        require(t is None or bool(torch.isfinite(t).all()), f"{where}: non-finite {name}.")


def _same(a: Samples, b: Samples) -> bool:
    return (
        torch.equal(a.latents, b.latents)
        and torch.equal(a.recon, b.recon)
        and (
            (a.variance is None and b.variance is None)
            or (
                a.variance is not None
                and b.variance is not None
                and torch.equal(a.variance, b.variance)
            )
        )
    )
