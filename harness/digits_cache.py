"""scikit-learn's bundled digits, kept as an .npz in the cache folder after the first load (`digits_arrays`): a run
that only checks its data (a cached rerun of the demo) then imports no scikit-learn, about a second."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def digits_arrays(cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled digits (images, targets), kept in the cache folder as .npz after the first load, so
    a run that only checks its data does not import scikit-learn (about a second)."""
    from importlib.metadata import version

    path = cache / f"digits-sklearn{version('scikit-learn')}.npz"
    try:
        with np.load(path, allow_pickle=False) as stored:
            return stored["images"], stored["target"]
    except (OSError, ValueError, KeyError):
        pass
    from sklearn.datasets import load_digits

    bunch = load_digits()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
    try:
        np.savez(tmp, images=bunch.images, target=bunch.target)
        os.replace(tmp, path)
    except OSError:  # a read-only cache: loaded again next time
        tmp.unlink(missing_ok=True)
    return bunch.images, bunch.target
