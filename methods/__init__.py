"""Autoencoder methods behind one stochastic interface (see `methods.base`).

`from methods import Method, register, get, names`. Importing this package imports every method
module, so registration never depends on import order. Curvature code lives in `methods.curvature`.
"""

from . import (
    ae,  # noqa: F401  (registers "ae")
    ae_likelihood,  # noqa: F401  (registers "ae_likelihood")
    ensemble,  # noqa: F401  (registers "ensemble")
    lae_online,  # noqa: F401  (registers "lae_online")
    lae_posthoc,  # noqa: F401  (registers "lae_posthoc")
    mc_ae,  # noqa: F401  (registers "mc_ae")
    vae,  # noqa: F401  (registers "vae")
)
from .base import Method, ModelSpec, NotFittedError, Samples
from .registry import METHODS, get, names, register, registered

__all__ = [
    "Method",
    "ModelSpec",
    "NotFittedError",
    "Samples",
    "METHODS",
    "get",
    "names",
    "register",
    "registered",
]
