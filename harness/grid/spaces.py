"""Search spaces and `search:` settings in grid files, validated up front.

A method parameter or training setting may be a space instead of a value:

    lae_online: {prior_precision: {loguniform: [1.0e-2, 1.0e+2]}, alpha: {choice: [1.0e-3, 1.0e-2]},
                 train: {lr: {loguniform: [1.0e-4, 1.0e-2]}}}

Kinds (Ray Tune's samplers): `loguniform: [low, high]`, `uniform: [low, high]`, `randint: [low, high)`
(upper bound excluded, as Tune), `choice: [values]`, `grid: [values]` (Tune's `grid_search`: every value,
`num_samples` times). A space is checked twice: its own shape (positive, ordered bounds), then every value it
can produce against the parameter's own rule, by validating the space's bounds or choices as ordinary values, so
`lr: {uniform: [-1, 1]}` fails like `lr: -1` would, naming the key path.

A method label with at least one space is a *search*: `SearchSettings` (the grid's `search:` block, overridden
key by key by the experiment's) says how configurations are sampled and chosen; `harness.execution.search` runs it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from harness.grid.checks import ConfigError, is_int, is_number, no_unknown, require
from methods.base import ModelSpec

KINDS = ("loguniform", "uniform", "randint", "choice", "grid")
SEARCH_KEYS = {"metric", "mode", "num_samples", "scheduler", "search_alg", "seed"}
SCHEDULER_KEYS = {"name", "grace_period", "reduction_factor"}
DEFAULT_METRIC = "val_loss"
TASK_METRIC_PREFIX = "task:"


@dataclass
class SearchSettings:
    """How one search samples and chooses configurations (see README "Hyper-parameter search")."""

    metric: str = DEFAULT_METRIC  # the method's best validation loss, or `task:<metric>` on the validation split
    mode: str = "min"
    num_samples: int = 8
    scheduler: dict = field(default_factory=lambda: {"name": "fifo"})
    search_alg: str = "random"
    seed: int | None = None  # the search algorithm's seed; None: the model seed

    @property
    def task_metric(self) -> str | None:
        return (
            self.metric[len(TASK_METRIC_PREFIX) :]
            if self.metric.startswith(TASK_METRIC_PREFIX)
            else None
        )


def is_space(value) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in KINDS


def looks_like_space(value) -> bool:
    """A one-key mapping: a space, or a misspelt one (`{logunifrom: ...}`), which must not pass as a value."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(next(iter(value)), str)


def parse_space(value, path: str) -> dict:
    """The space's own shape; returns it as `{kind: [args]}` with numbers as floats/ints."""
    require(
        is_space(value),
        path,
        f"must be a value or a search space, one of {', '.join(KINDS)}: e.g. "
        "{loguniform: [1.0e-4, 1.0e-2]}",
        value,
    )
    kind, args = next(iter(value.items()))
    where = f"{path}.{kind}"
    require(isinstance(args, list) and args, where, "must be a non-empty list", args)
    if kind in ("choice", "grid"):
        require(
            not any(is_space(a) for a in args), where, "must list plain values, not spaces", args
        )
        return {kind: list(args)}
    require(len(args) == 2, where, "must be [low, high]", args)
    low, high = args
    if kind == "randint":
        require(
            is_int(low) and is_int(high) and low < high,
            where,
            "must be two integers [low, high) with low < high",
            args,
        )
        return {kind: [int(low), int(high)]}
    require(
        is_number(low) and is_number(high) and low < high,
        where,
        "must be two numbers [low, high] with low < high",
        args,
    )
    if kind == "loguniform":
        require(low > 0, where, "must have a positive low bound (log scale)", args)
    return {kind: [float(low), float(high)]}


def space_values(space: dict) -> list:
    """The values that bound what the space can produce: checking these checks every sample (our parameters'
    rules are intervals or sets)."""
    kind, args = next(iter(space.items()))
    if kind == "randint":
        return [args[0], args[1] - 1]
    return list(args)


def split_spaces(mapping: dict, path: str) -> tuple[dict, dict]:
    """`mapping` without its spaces (each replaced by its first value), and the parsed spaces by key."""
    plain, spaces = dict(mapping), {}
    for key, value in mapping.items():
        if looks_like_space(value) and not (key == "plateau"):
            spaces[key] = parse_space(value, f"{path}.{key}")
            plain[key] = space_values(spaces[key])[0]
    return plain, spaces


def check_space_values(spaces: dict, plain: dict, path: str, validate) -> None:
    """Every bound or choice of every space passes `validate(mapping)` as an ordinary value would."""
    for key, space in spaces.items():
        for v in space_values(space):
            try:
                validate({**plain, key: v})
            except ConfigError as exc:
                raise ConfigError(
                    f"{path}.{key}: the space {space} can produce {v!r}, which is invalid: {exc}"
                ) from None
            except ValueError as exc:
                raise ConfigError(
                    f"{path}.{key}: the space {space} can produce {v!r}, which is invalid: {exc}"
                ) from None


def parse_search(value, path: str, base: SearchSettings | None = None) -> SearchSettings:
    """A `search:` block (at key path `path`) over `base` (default: `SearchSettings()`), key by key; None
    keeps `base`. Raises ConfigError naming the key path."""
    base = base or SearchSettings()
    if value is None:
        return base
    require(
        isinstance(value, dict),
        path,
        "must be a mapping like {num_samples: 12, scheduler: asha}",
        value,
    )
    no_unknown(value, SEARCH_KEYS, path)
    out = SearchSettings(**{**base.__dict__, "scheduler": dict(base.scheduler)})
    if "metric" in value:
        out.metric = _search_metric(value["metric"], f"{path}.metric")
        if "mode" not in value and out.metric == DEFAULT_METRIC:
            out.mode = "min"
    if "mode" in value:
        require(
            value["mode"] in ("min", "max"), f"{path}.mode", "must be min or max", value["mode"]
        )
        out.mode = value["mode"]
    if "num_samples" in value:
        require(
            is_int(value["num_samples"]) and value["num_samples"] > 0,
            f"{path}.num_samples",
            "must be a positive integer",
            value["num_samples"],
        )
        out.num_samples = value["num_samples"]
    if "scheduler" in value:
        out.scheduler = _scheduler(value["scheduler"], f"{path}.scheduler")
    if "search_alg" in value:
        out.search_alg = _search_algorithm(value["search_alg"], f"{path}.search_alg")
    if "seed" in value:
        require(
            is_int(value["seed"]) and value["seed"] >= 0,
            f"{path}.seed",
            "must be an integer >= 0",
            value["seed"],
        )
        out.seed = value["seed"]
    return out


def _search_metric(m, path: str) -> str:
    """The metric a search optimises: the validation loss, or `task:<metric>` of the experiment's task."""
    require(
        isinstance(m, str)
        and (
            m == DEFAULT_METRIC
            or (m.startswith(TASK_METRIC_PREFIX) and len(m) > len(TASK_METRIC_PREFIX))
        ),
        path,
        f"must be '{DEFAULT_METRIC}' (the method's validation loss) or "
        f"'{TASK_METRIC_PREFIX}<metric>' (a metric of the experiment's task on the validation split, e.g. "
        f"{TASK_METRIC_PREFIX}auroc/sigma2_output)",
        m,
    )
    return m


def _search_algorithm(alg, path: str) -> str:
    """`random` or `optuna` (refused when optuna is not installed)."""
    require(alg in ("random", "optuna"), path, "must be random or optuna", alg)
    if alg == "optuna":
        try:
            import optuna  # noqa: F401
        except ImportError:
            raise ConfigError(
                f"{path}: optuna is not installed. Install it (pip install "
                f"'laebench[optuna]') or use search_alg: random."
            ) from None
    return alg


def _scheduler(value, path: str) -> dict:
    if isinstance(value, str):
        value = {"name": value}
    require(
        isinstance(value, dict),
        path,
        "must be fifo, asha, or {name: asha, grace_period: 1, reduction_factor: 3}",
        value,
    )
    no_unknown(value, SCHEDULER_KEYS, path)
    name = value.get("name", "fifo")
    require(name in ("fifo", "asha"), f"{path}.name", "must be fifo or asha", name)
    if name == "fifo":
        require(
            set(value) <= {"name"},
            path,
            "fifo takes no options (grace_period and reduction_factor are ASHA's)",
            value,
        )
        return {"name": "fifo"}
    out = {
        "name": "asha",
        "grace_period": value.get("grace_period", 1),
        "reduction_factor": value.get("reduction_factor", 3),
    }
    require(
        is_int(out["grace_period"]) and out["grace_period"] > 0,
        f"{path}.grace_period",
        "must be a positive integer (epochs every trial runs before it can be stopped)",
        out["grace_period"],
    )
    require(
        is_number(out["reduction_factor"]) and out["reduction_factor"] > 1,
        f"{path}.reduction_factor",
        "must be a number > 1",
        out["reduction_factor"],
    )
    return out


def experiment_search(
    value, path, base: SearchSettings, task_cls, task_params: dict
) -> SearchSettings:
    """The experiment's search settings; a `task:` metric needs a task that can run on the validation split."""
    settings = parse_search(value, path, base)
    if settings.task_metric:
        spec = getattr(task_cls, "param_spec", {}).get("split")
        require(
            spec is not None and "validation" in (spec.choices or ()),
            f"{path}.metric",
            f"names a metric of task '{task_cls.key}', which has no validation split to compute it on (test "
            f"data never chooses a model); use val_loss, or a task with a split parameter such as ood",
            settings.metric,
        )
        if value is None or "mode" not in (value or {}):
            settings.mode = task_direction(task_cls, settings.task_metric)
    return settings


def task_direction(task_cls, metric: str) -> str:
    from fnmatch import fnmatch

    for pattern, direction in getattr(task_cls, "directions", {}).items():
        if fnmatch(metric, pattern):
            return direction
    return "max"


def concrete(base: ModelSpec, sampled: dict) -> ModelSpec:
    """`base` with each `params.x` / `train.x` space replaced by its sampled value."""
    params, train = copy.deepcopy(base.params), copy.deepcopy(base.train)
    for path, value in sampled.items():
        part, name = path.split(".", 1)
        (params if part == "params" else train)[name] = value
    return base.replace(params=params, train=train)
