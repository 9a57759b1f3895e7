"""Validators of a grid's plain values (seeds, resources, training settings, method entries), each raising
`ConfigError` that names the key path."""

from __future__ import annotations

import copy

from harness.grid.checks import (
    MAX_NAME,
    ConfigError,
    is_int,
    is_number,
    no_unknown,
    require,
    safe_name,
)
from harness.grid.schema import TRAIN_KEYS, MethodEntry
from harness.grid.spaces import (
    check_space_values,
    split_spaces,
)


def parse_seeds(value, path) -> list[int]:
    """`seeds:` at key path `path`: distinct integers in [0, 2^32), as a new list."""
    require(
        isinstance(value, list) and value and all(is_int(s) and 0 <= s < 2**32 for s in value),
        path,
        "must be a non-empty list of integers in [0, 2^32)",
        value,
    )
    require(len(set(value)) == len(value), path, "must not repeat a seed", value)
    return list(value)


def parse_resources(value, path, base: dict) -> dict:
    """`resources:` (`cpu`, `gpu` per trial) at key path `path`, over `base`."""
    require(isinstance(value, dict), path, "must be a mapping like {cpu: 1, gpu: 0.5}", value)
    no_unknown(value, {"cpu", "gpu"}, path)
    out = {**base, **value}
    require(
        is_number(out["cpu"]) and out["cpu"] > 0,
        f"{path}.cpu",
        "must be a positive number",
        out["cpu"],
    )
    require(
        is_number(out["gpu"]) and out["gpu"] >= 0,
        f"{path}.gpu",
        "must be a number >= 0",
        out["gpu"],
    )
    return out


def parse_train(value, path, base: dict) -> dict:
    """Training settings over `base`; a setting may be a search space (`harness.grid.spaces`)."""
    require(isinstance(value, dict), path, "must be a mapping", value)
    no_unknown(value, TRAIN_KEYS, path)
    plain, spaces = split_spaces(value, path)
    check_space_values(spaces, plain, path, lambda m: _train_values(m, path, base))
    out = _train_values(plain, path, base)
    out.update(spaces)
    return out


def _train_values(value: dict, path, base: dict) -> dict:
    out = copy.deepcopy(base)
    for key, v in value.items():
        p = f"{path}.{key}"
        if key == "plateau":
            require(isinstance(v, dict), p, "must be a mapping {factor, patience}", v)
            no_unknown(v, {"factor", "patience"}, p)
            if "factor" in v:
                require(
                    is_number(v["factor"]) and 0 < v["factor"] < 1,
                    f"{p}.factor",
                    "must be a number in (0, 1)",
                    v["factor"],
                )
            if "patience" in v:
                require(
                    is_int(v["patience"]) and v["patience"] >= 0,
                    f"{p}.patience",
                    "must be a non-negative integer",
                    v["patience"],
                )
            out["plateau"] = {**out["plateau"], **v}
        elif key in ("lr",):
            require(is_number(v) and v > 0, p, "must be a positive number", v)
            out[key] = float(v)
        elif key == "weight_decay":
            require(is_number(v) and v >= 0, p, "must be a number >= 0", v)
            out[key] = float(v)
        elif key == "checkpoint_minutes":  # resume checkpoints every this many minutes of training
            require(is_number(v) and v > 0, p, "must be a positive number of minutes", v)
            out[key] = float(v)
        elif key == "snapshot_every":  # keep the model every this many epochs (0: never)
            require(is_int(v) and v >= 0, p, "must be an integer >= 0 (epochs; 0: no snapshots)", v)
            out[key] = v
        else:  # batch_size, max_epochs, early_stopping
            require(is_int(v) and v > 0, p, "must be a positive integer", v)
            out[key] = v
    return out


def parse_methods(
    value, path, get_method, experiment_train: dict, experiment_seeds: list[int] | None = None
) -> list[MethodEntry]:
    """`methods:` at key path `path`: leaderboard row label -> parameters (`method:` names the registered method
    when it differs from the label; `train:` and `seeds:` override the experiment's)."""
    require(
        isinstance(value, dict) and value,
        path,
        "must be a non-empty mapping of method name to parameters, e.g. {ae: {}}",
        value,
    )
    return [
        _method_entry(label, params, path, get_method, experiment_train, experiment_seeds)
        for label, params in value.items()
    ]


def _method_entry(
    label, params, path, get_method, experiment_train: dict, experiment_seeds: list[int] | None
) -> MethodEntry:
    """One row of `methods:` (`label: params`), validated against its method's own parameter rules."""
    p = f"{path}.{label}"
    require(
        safe_name(label),
        path,
        f"keys are leaderboard row labels: letters, digits, '-', '_', '.' (at most "
        f"{MAX_NAME} characters, not starting with '.')",
        label,
    )
    require(
        params is None or isinstance(params, dict),
        p,
        "must be a mapping of parameters, e.g. {} or {method: ae}",
        params,
    )
    params = dict(params or {})
    key = params.pop("method", label)
    require(isinstance(key, str), f"{p}.method", "must be a registered method name", key)
    # per-method training settings (e.g. the authors' lr 1e-4 for the conv online LAE) over the experiment's
    train_override = params.pop("train", None)
    train = (
        None
        if train_override is None
        else parse_train(train_override, f"{p}.train", experiment_train)
    )
    seeds = params.pop("seeds", None)
    if seeds is not None:
        seeds = parse_seeds(seeds, f"{p}.seeds")
        extra = sorted(set(seeds) - set(experiment_seeds or seeds))
        require(
            not extra,
            f"{p}.seeds",
            f"must be among the experiment's seeds {experiment_seeds} (add {extra} there)",
            seeds,
        )
    try:
        cls = get_method(key)
    except ValueError as exc:
        raise ConfigError(f"{p}: {exc}{did_you_mean(key, 'methods')}") from None
    plain, spaces = split_spaces(params, p)
    check_space_values(spaces, plain, p, cls.validate_params)
    try:
        params = {**cls.validate_params(plain), **spaces}
    except ValueError as exc:
        raise ConfigError(f"{p}: {exc}") from None
    return MethodEntry(label=str(label), key=key, params=params, train=train, seeds=seeds)


def parse_snapshots(value, path, methods: list[MethodEntry], experiment_train: dict) -> list[int]:
    """Epochs to evaluate each model at (`experiments[i].snapshots`): each must be a snapshot every method's
    training keeps (`train.snapshot_every` dividing it) and within its `max_epochs`."""
    if value is None:
        return []
    require(
        isinstance(value, list) and value and all(is_int(e) and e > 0 for e in value),
        path,
        "must be a non-empty list of epochs (positive integers), e.g. [2, 4, 6]",
        value,
    )
    require(len(set(value)) == len(value), path, "must not repeat an epoch", value)
    for entry in methods:
        train = entry.train or experiment_train
        every = train.get("snapshot_every", 0)
        bad = [e for e in value if not every or e % every or e > train.get("max_epochs", e)]
        require(
            not bad,
            path,
            f"has epochs {bad} that {entry.label}'s training does not keep: set methods.{entry.label}.train."
            f"snapshot_every to a divisor of them (now {every}) within max_epochs "
            f"({train.get('max_epochs')})",
            value,
        )
    return sorted(value)


def did_you_mean(name, registry: str) -> str:
    """' Did you mean 'vae'?' for a name close to a registered method or task ('' when none is)."""
    import difflib

    import methods
    import tasks

    names = (methods if registry == "methods" else tasks).names()
    close = difflib.get_close_matches(str(name), names, n=2, cutoff=0.6)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
