"""Autoencoder methods behind one stochastic interface (see `methods.base`).

`from methods import Method, register, get, names`. Importing this package imports every method
module, so registration never depends on import order. Curvature code lives in `methods.curvature`.
"""
from .base import Method, ModelSpec, NotFittedError, Samples
from .registry import METHODS, get, names, register, registered
from . import ae  # noqa: F401  (registers "ae")
from . import ae_likelihood  # noqa: F401  (registers "ae_likelihood")
from . import vae  # noqa: F401  (registers "vae")
from . import mc_ae  # noqa: F401  (registers "mc_ae")
from . import ensemble  # noqa: F401  (registers "ensemble")
from . import lae_posthoc  # noqa: F401  (registers "lae_posthoc")
from . import lae_online  # noqa: F401  (registers "lae_online")

__all__ = ["Method", "ModelSpec", "NotFittedError", "Samples", "METHODS", "get", "names", "register", "registered"]
