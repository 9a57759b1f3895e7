"""Validators of two grid sections, `data` and `model`: each returns the section as the plan uses it or raises
`ConfigError` naming the key path."""

from __future__ import annotations

from harness.datasets import DATASETS
from harness.grid.checks import ConfigError, is_int, no_unknown, require
from methods.architectures import architecture_options

MAX_WIDTH = 65536  # latent and layer widths beyond this are typos (1e20), not models: refused before torch sees them
MAX_LAYERS = 64


def dataset_section(value, path) -> dict:
    if isinstance(value, str):
        value = {"name": value}
    require(
        isinstance(value, dict), path, "must be a dataset name or {name, classes, limit}", value
    )
    no_unknown(value, {"name", "classes", "limit"}, path)
    names = DATASETS.names()
    require(
        isinstance(value.get("name"), str) and value.get("name") in names,
        f"{path}.name",
        f"must be one of {', '.join(names)}",
        value.get("name"),
    )
    classes = value.get("classes")
    if classes is not None:
        require(
            isinstance(classes, list) and classes and all(is_int(c) and c >= 0 for c in classes),
            f"{path}.classes",
            "must be a non-empty list of class indices (integers >= 0)",
            classes,
        )
        require(
            len(set(classes)) == len(classes), f"{path}.classes", "must not repeat a class", classes
        )
    limit = value.get("limit")
    if limit is not None:
        require(is_int(limit) and limit > 0, f"{path}.limit", "must be a positive integer", limit)
    return {"name": value["name"], "classes": classes, "limit": limit}


def data_section(value, path, task_cls) -> dict:
    if value is None and not task_cls.needs_model and not task_cls.data_roles:
        return {}
    require(
        isinstance(value, dict) and "train" in value,
        path,
        "must be a mapping with a 'train' dataset",
        value,
    )
    allowed = {"train", *task_cls.data_roles}
    no_unknown(value, allowed, path)
    for role in task_cls.data_roles:
        require(role in value, f"{path}.{role}", f"is required by task '{task_cls.key}'", None)
    return {role: dataset_section(v, f"{path}.{role}") for role, v in value.items()}


def model_section(value, path) -> dict:
    require(
        isinstance(value, dict), path, "must be a mapping like {arch: mlp, latent_dim: 2}", value
    )
    try:
        opts = architecture_options(value)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    k = opts.get("latent_dim")
    require(
        is_int(k) and 0 < k <= MAX_WIDTH,
        f"{path}.latent_dim",
        f"must be a positive integer <= {MAX_WIDTH}",
        k,
    )
    for key in ("hidden", "channels"):
        if key in opts:
            v = opts[key]
            require(
                isinstance(v, list)
                and (v or key == "hidden")
                and len(v) <= MAX_LAYERS
                and all(is_int(n) and 0 < n <= MAX_WIDTH for n in v),
                f"{path}.{key}",
                f"must be a list of at most {MAX_LAYERS} positive integers <= {MAX_WIDTH} (layer widths)",
                v,
            )
    if "kernel_size" in opts:
        v = opts["kernel_size"]
        require(
            is_int(v) and 0 < v <= 31 and v % 2 == 1,
            f"{path}.kernel_size",
            "must be a positive odd integer <= 31",
            v,
        )
    return dict(value)
