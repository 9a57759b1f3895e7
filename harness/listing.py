"""`python -m harness list [--params]`: every registered method and task with one line each (and, with
`--params`, each one's parameters: accepted values, default, what it does), then the keys a grid's `train:` and
`resources:` take with their defaults.

The listing of the installed package is kept in the cache folder under a digest of the package's source files
(their sizes and times) and the installed entry points, so a second `list` prints without importing torch and
every library the methods and tasks need (seconds). Plugins (`--plugins`, `--grid`) are always listed afresh.
"""

from __future__ import annotations

import hashlib
import platform
from pathlib import Path

PACKAGES = ("laebench", "methods", "tasks")
# What each training setting of a grid's `train:` does (defaults: methods.training.DEFAULT_TRAIN)
TRAIN_HELP = {
    "lr": "Adam learning rate (appendix A: 1e-3)",
    "batch_size": "images per step (appendix A: 64 for MNIST/FashionMNIST, 128 for CelebA)",
    "max_epochs": "at most this many epochs",
    "early_stopping": "stop after this many epochs without a better validation loss",
    "plateau": "ReduceLROnPlateau: halve (factor) after patience epochs without improvement",
    "weight_decay": "Adam weight decay",
    "checkpoint_minutes": "resume checkpoint every this many minutes of training (and at the end or a stop)",
    "snapshot_every": "keep the model every this many epochs, for `snapshots:` (0: never)",
}
RESOURCES_HELP = {
    "cpu": ("1", "CPUs per trial (also the trial's torch threads)"),
    "gpu": ("0", "GPUs per trial (a fraction shares one GPU between trials)"),
}


def listing(params: bool) -> list[str]:
    """The lines of the listing, computed from the registries (imports every method and task)."""
    import methods
    import tasks
    from methods.training import DEFAULT_TRAIN

    lines = []
    for title, registry in (("methods", methods.METHODS), ("tasks", tasks.TASKS)):
        lines.append(f"{title}:")
        for name, cls in registry.items():
            lines.append(f"  {name:<16} {cls.description}")
            if params:
                lines += [f"      {line}" for line in param_lines(cls)]
    if params:
        lines.append("train: (a grid's `train:`, an experiment's, or a method's own)")
        lines += [
            f"  {key:<18} default {DEFAULT_TRAIN[key]!r}: {TRAIN_HELP.get(key, '')}"
            for key in DEFAULT_TRAIN
        ]
        lines.append("resources: (a grid's `resources:` or an experiment's)")
        lines += [f"  {key:<18} default {d}: {text}" for key, (d, text) in RESOURCES_HELP.items()]
    return lines


def param_lines(cls) -> list[str]:
    """One line per parameter: from `param_spec` where declared, else the name and its default."""
    spec = getattr(cls, "param_spec", {}) or {}
    return [
        f"{name}: {spec[name].describe()}" if name in spec else f"{name}: default {default!r}"
        for name, default in cls.default_params.items()
    ]


def cached_listing(params: bool) -> list[str]:
    """`listing(params)`, from the cache when the package's files and entry points are those it was made from."""
    import os

    cache = Path(
        os.environ.get("LAEBENCH_CACHE", Path.home() / ".cache" / "laebench")
    )  # as harness.datasets
    path = cache / "listing" / f"{_digest()}-{'params' if params else 'names'}.txt"
    try:
        return path.read_text().splitlines()
    except OSError:
        pass
    lines = listing(params)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
    except OSError:  # a read-only cache: the listing is still printed
        pass
    return lines


def _digest() -> str:
    from importlib.metadata import entry_points

    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(platform.python_version().encode())
    for package in PACKAGES:
        for source in sorted((root / package).rglob("*.py")):
            st = source.stat()
            digest.update(f"{source.relative_to(root)} {st.st_size} {st.st_mtime_ns}\n".encode())
    for group in ("laebench.methods", "laebench.tasks"):
        digest.update(" ".join(sorted(str(e) for e in entry_points(group=group))).encode())
    return digest.hexdigest()[:20]
