"""`lae_posthoc`'s laplace-torch backend (`backend: laplace`, and `hessian: kfac`): a `laplace.Laplace` regression
object with BackPACK's GGN on a copy of the autoencoder, fitted on the training images as targets."""

from __future__ import annotations

import copy
import warnings

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def build_laplace(
    encoder: nn.Module, decoder: nn.Module, hessian: str, noise_variance: float, temperature: float
):
    """A laplace-torch object (BackPACK GGN) on a copy of the network with flat outputs `[B, D]`.

    The copy keeps BackPACK's hooks off our modules; the final `Unflatten` is dropped because laplace-torch's
    regression needs flat outputs and BackPACK has no rule for it.
    """
    from laplace import Laplace
    from laplace.curvature import BackPackGGN

    layers = [*copy.deepcopy(encoder), *copy.deepcopy(decoder)]
    layers = layers[:-1] if isinstance(layers[-1], nn.Unflatten) else [*layers, nn.Flatten()]
    structure = "kron" if hessian == "kfac" else "diag"
    return Laplace(
        nn.Sequential(*layers),
        "regression",
        subset_of_weights="all",
        hessian_structure=structure,
        backend=BackPackGGN,
        sigma_noise=noise_variance**0.5,
        temperature=temperature,
    )


def fit_laplace(la, train_x: torch.Tensor, batch_size: int, prior_precision: float | None) -> None:
    """Fit the GGN on `train_x` (inputs and flat targets); the prior: `prior_precision`, or the evidence maximum."""
    loader = DataLoader(TensorDataset(train_x, train_x.flatten(1)), batch_size=batch_size)
    with (
        warnings.catch_warnings()
    ):  # BackPACK's hooks warn that inputs need no gradient: expected here
        warnings.simplefilter("ignore", UserWarning)
        la.fit(loader)
    if prior_precision is None:
        la.optimize_prior_precision(method="marglik")
    else:
        la.prior_precision = float(prior_precision)


def to_device(obj, device):
    """Tensors inside nested lists/dicts (laplace-torch's KFAC state) moved to `device`."""
    if torch.is_tensor(obj):
        return obj.to(device)
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(v, device) for v in obj)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    return obj
