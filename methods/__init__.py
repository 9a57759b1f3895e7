"""Autoencoder methods behind one stochastic interface (see `methods.base`).

`from methods import Method, register, get, names`. Importing this package imports every method
module, so registration never depends on import order. Curvature code lives in `methods.curvature`.
"""
from .base import Method, ModelSpec, NotFittedError, Samples
from .registry import METHODS, get, names, register
from . import ae  # noqa: F401  (registers "ae")

__all__ = ["Method", "ModelSpec", "NotFittedError", "Samples", "METHODS", "get", "names", "register"]
