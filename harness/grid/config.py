"""Grid files: YAML parsed and validated up front into plain dataclasses.

`load_grid(path)` returns a `Grid`; any bad key, type or value raises `ConfigError` whose message
starts with the key path (`experiments[2].train.lr must be a positive number. Got -0.001.`), so the
CLI can print one line and exit 2 before Ray starts. Plugins named in the grid are imported first
(from the grid's folder or the working directory, which are on `sys.path` only while importing), so
their methods and tasks validate like built-in ones. Duplicate YAML keys are errors, not silently
overwritten. See `configs/demo.yaml` for the shape.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from harness.grid.checks import (
    MAX_NAME,
    ConfigError,
    is_int,
    is_number,
    no_unknown,
    require,
    safe_name,
)
from harness.grid.plugins import import_plugins
from harness.grid.sections import data_section, model_section
from harness.grid.spaces import (
    SearchSettings,
    check_space_values,
    experiment_search,
    is_space,
    parse_search,
    split_spaces,
)
from methods.base import ModelSpec
from methods.training import DEFAULT_TRAIN

GRID_KEYS = {
    "name",
    "description",
    "seeds",
    "resources",
    "plugins",
    "train",
    "experiments",
    "search",
    "max_failures",
}
EXPERIMENT_KEYS = {
    "name",
    "task",
    "task_params",
    "data",
    "model",
    "methods",
    "train",
    "seeds",
    "resources",
    "search",
}
TRAIN_KEYS = set(DEFAULT_TRAIN)


@dataclass
class MethodEntry:
    label: str  # the leaderboard's row name
    key: str  # registered method key
    params: dict
    train: dict | None = (
        None  # the method's own training settings (`methods.<label>.train`), if any
    )
    # a search (some params or train settings are spaces): seed -> {"params", "train", "search"} once chosen
    chosen: dict = field(default_factory=dict)


@dataclass
class Experiment:
    name: str
    task: str
    task_params: dict
    data: dict  # role -> {"name", "classes", "limit"}; role "train" always present
    model: dict
    methods: list[MethodEntry]
    train: dict
    seeds: list[int]
    resources: dict
    search: SearchSettings = field(default_factory=SearchSettings)

    def spec(self, entry: MethodEntry, seed: int) -> ModelSpec:
        """The model of `entry` for `seed`; for a search, the chosen configuration (`is_search` says whether
        there is one to choose, `harness.execution.search` chooses it)."""
        chosen = entry.chosen.get(seed)
        params, train = (
            (chosen["params"], chosen["train"])
            if chosen
            else (entry.params, entry.train or self.train)
        )
        return ModelSpec(
            method=entry.key,
            params=params,
            data=self.data["train"],
            model=self.model,
            train=train,
            seed=seed,
        )

    def is_search(self, entry: MethodEntry) -> bool:
        return any(
            is_space(v) for v in [*entry.params.values(), *(entry.train or self.train).values()]
        )


@dataclass
class Grid:
    name: str
    seeds: list[int]
    resources: dict
    plugins: list[str]
    train: dict
    experiments: list[Experiment]
    source: str = ""
    raw: dict = field(default_factory=dict)
    max_failures: int = (
        0  # Tune retries of a trial that raised (pre-emptible nodes), before it counts as failed
    )


MAX_DEPTH, MAX_ALIASES = (
    40,
    100,
)  # a grid is a few levels deep; anchors are for sharing a block, not for bombs


class _GridLoader(yaml.SafeLoader):
    """PyYAML's safe loader with a bounded cost and a stricter shape: nesting deeper than `MAX_DEPTH` and more
    than `MAX_ALIASES` alias uses (a 'billion laughs' chain) are refused while composing, before anything is
    built; a mapping key that repeats (PyYAML keeps the last, so `train:` twice silently loses one) or is not a
    string is an error at its line."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = self._aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"more than {MAX_ALIASES} alias (*name) uses",
                    self.peek_event().start_mark,
                )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"nesting deeper than {MAX_DEPTH} levels",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is not a string (quote it)", key_node.start_mark
                )
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def plugin_paths(source: str | os.PathLike | None) -> list[str]:
    """Where the grid's plugins are looked for: the grid file's folder, then the working directory."""
    grid_dir = str(Path(source).resolve().parent) if source and Path(source).is_file() else ""
    return [p for p in (grid_dir, os.getcwd()) if p]


def load_grid(path: str | Path) -> Grid:
    path = Path(path)
    if not path.exists():
        raise ConfigError(
            f"Grid file {path} does not exist. Pass --grid with a YAML file (see configs/)."
        )
    if not path.is_file():
        raise ConfigError(
            f"Grid file {path} is not a file. Pass --grid with a YAML file (see configs/)."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            f"Grid file {path} is not UTF-8 text. Pass --grid with a YAML file."
        ) from None
    except OSError as exc:
        raise ConfigError(f"Cannot read grid file {path}: {exc.strerror or exc}.") from None
    try:
        raw = yaml.load(text, Loader=_GridLoader)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: malformed YAML{at}: {problem}. Fix the syntax.") from None
    except (
        RecursionError
    ):  # a construct our depth count does not see (a flow collection thousands deep)
        raise ConfigError(
            f"{path}: malformed YAML: nested too deeply. A grid is a few levels deep."
        ) from None
    return parse_grid(raw, source=str(path), plugin_paths=plugin_paths(path))


def parse_grid(raw, source: str = "<grid>", plugin_paths: list[str] | None = None) -> Grid:
    from methods import get as get_method
    from tasks import get as get_task

    require(
        isinstance(raw, dict), "grid", "must be a mapping with keys name, experiments, ...", raw
    )
    no_unknown(raw, GRID_KEYS, "grid")
    name = raw.get("name")
    require(
        safe_name(name),
        "name",
        f"must be a name of letters, digits, '-', '_', '.' (at most {MAX_NAME} "
        "characters, not starting with '.'): it names the results folder",
        name,
    )
    plugins = raw.get("plugins", []) or []
    if isinstance(plugins, list):  # `my_methods.py` names the module my_methods
        plugins = [
            p[:-3] if isinstance(p, str) and p.endswith(".py") and len(p) > 3 else p
            for p in plugins
        ]
    require(
        isinstance(plugins, list)
        and all(
            isinstance(p, str) and p and all(part.isidentifier() for part in p.split("."))
            for p in plugins
        ),
        "plugins",
        "must be a list of module names (my_methods, or package.module)",
        plugins,
    )
    try:
        import_plugins(plugins, plugin_paths or [])
    except ValueError as exc:
        raise ConfigError(f"plugins: {exc}") from None
    seeds = _seeds(raw.get("seeds", [0]), "seeds")
    resources = _resources(raw.get("resources", {}), "resources", {"cpu": 1, "gpu": 0})
    train = _train(raw.get("train", {}), "train", DEFAULT_TRAIN)
    search = parse_search(raw.get("search"), "search")
    max_failures = raw.get("max_failures", 0)
    require(
        is_int(max_failures) and max_failures >= 0,
        "max_failures",
        "must be an integer >= 0 (how often Tune retries a trial that raised)",
        max_failures,
    )
    experiments_raw = raw.get("experiments")
    require(
        isinstance(experiments_raw, list) and experiments_raw,
        "experiments",
        "must be a non-empty list",
        experiments_raw,
    )
    experiments, seen = [], set()
    for i, exp in enumerate(experiments_raw):
        where = f"experiments[{i}]"
        require(isinstance(exp, dict), where, "must be a mapping", exp)
        no_unknown(exp, EXPERIMENT_KEYS, where)
        exp_name = exp.get("name")
        require(
            safe_name(exp_name),
            f"{where}.name",
            f"must be a name of letters, digits, '-', '_', '.' (at most "
            f"{MAX_NAME} characters, not starting with '.'): it names a folder of results",
            exp_name,
        )
        require(exp_name not in seen, f"{where}.name", "must be unique in the grid", exp_name)
        seen.add(exp_name)
        require(
            isinstance(exp.get("task"), str),
            f"{where}.task",
            "must be a task name (python -m harness list)",
            exp.get("task"),
        )
        try:
            task_cls = get_task(exp.get("task"))
        except ValueError as exc:
            raise ConfigError(f"{where}.task: {exc}") from None
        task_params = exp.get("task_params", {}) or {}
        require(
            isinstance(task_params, dict), f"{where}.task_params", "must be a mapping", task_params
        )
        try:
            task_params = task_cls.validate_params(task_params)
        except ValueError as exc:
            raise ConfigError(f"{where}.task_params: {exc}") from None
        data = data_section(exp.get("data"), f"{where}.data", task_cls)
        exp_train = _train(exp.get("train", {}), f"{where}.train", train)
        model, methods = {}, []
        if task_cls.needs_model:
            model = model_section(exp.get("model"), f"{where}.model")
            methods = _methods(exp.get("methods"), f"{where}.methods", get_method, exp_train)
        experiments.append(
            Experiment(
                name=exp_name,
                task=task_cls.key,
                task_params=task_params,
                data=data,
                model=model,
                methods=methods,
                train=exp_train,
                seeds=_seeds(exp.get("seeds", seeds), f"{where}.seeds"),
                resources=_resources(exp.get("resources", {}), f"{where}.resources", resources),
                search=experiment_search(
                    exp.get("search"), f"{where}.search", search, task_cls, task_params
                ),
            )
        )
        _check_grid_spaces(experiments[-1], where)
        _check_importable(experiments[-1], where, plugins)
    return Grid(
        name=name,
        seeds=seeds,
        resources=resources,
        plugins=plugins,
        train=train,
        experiments=experiments,
        source=source,
        raw=raw,
        max_failures=max_failures,
    )


def _check_importable(exp: Experiment, where: str, plugins: list[str]) -> None:
    """A method or task registered only in the driver (the calling script, a module not under `plugins:`)
    passes validation but is unknown to every Ray worker: refuse it now, with the fix."""
    import methods
    import tasks

    problem = tasks.TASKS.importable_by_workers(exp.task, plugins)
    if problem:
        raise ConfigError(f"{where}.task: {problem}")
    for entry in exp.methods:
        problem = methods.METHODS.importable_by_workers(entry.key, plugins)
        if problem:
            raise ConfigError(f"{where}.methods.{entry.label}: {problem}")


def _check_grid_spaces(exp: Experiment, where: str) -> None:
    """Optuna samples; it cannot enumerate a `grid:` space (Tune's grid_search)."""
    if exp.search.search_alg != "optuna":
        return
    for entry in exp.methods:
        for part, values in (("", entry.params), ("train.", entry.train or exp.train)):
            for key, value in values.items():
                require(
                    not (is_space(value) and "grid" in value),
                    f"{where}.methods.{entry.label}.{part}{key}",
                    "is a grid: space, which search_alg: optuna cannot enumerate; use choice: or search_alg: "
                    "random",
                    value,
                )


def _seeds(value, path) -> list[int]:
    require(
        isinstance(value, list) and value and all(is_int(s) and 0 <= s < 2**32 for s in value),
        path,
        "must be a non-empty list of integers in [0, 2^32)",
        value,
    )
    require(len(set(value)) == len(value), path, "must not repeat a seed", value)
    return list(value)


def _resources(value, path, base: dict) -> dict:
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


def _train(value, path, base: dict) -> dict:
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
        else:  # batch_size, max_epochs, early_stopping
            require(is_int(v) and v > 0, p, "must be a positive integer", v)
            out[key] = v
    return out


def _methods(value, path, get_method, experiment_train: dict) -> list[MethodEntry]:
    require(
        isinstance(value, dict) and value,
        path,
        "must be a non-empty mapping of method name to parameters, e.g. {ae: {}}",
        value,
    )
    entries = []
    for label, params in value.items():
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
            else _train(train_override, f"{p}.train", experiment_train)
        )
        try:
            cls = get_method(key)
        except ValueError as exc:
            raise ConfigError(f"{p}: {exc}") from None
        plain, spaces = split_spaces(params, p)
        check_space_values(spaces, plain, p, cls.validate_params)
        try:
            params = {**cls.validate_params(plain), **spaces}
        except ValueError as exc:
            raise ConfigError(f"{p}: {exc}") from None
        entries.append(MethodEntry(label=str(label), key=key, params=params, train=train))
    return entries
