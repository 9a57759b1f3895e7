"""Grid files: YAML parsed and validated up front into plain dataclasses.

`load_grid(path)` returns a `Grid`; any bad key, type or value raises `ConfigError` whose message
starts with the key path (`experiments[2].train.lr must be a positive number. Got -0.001.`), so the
CLI can print one line and exit 2 before Ray starts. Plugins named in the grid are imported first
(from the grid's folder or the working directory, which are on `sys.path` only while importing), so
their methods and tasks validate like built-in ones. Duplicate YAML keys are errors, not silently
overwritten. See `configs/demo.yaml` for the shape.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from harness.grid.checks import (
    MAX_NAME,
    ConfigError,
    is_int,
    no_unknown,
    require,
    safe_name,
)
from harness.grid.plugins import import_plugins
from harness.grid.schema import EXPERIMENT_KEYS, GRID_KEYS, Experiment, Grid
from harness.grid.sections import data_section, model_section
from harness.grid.spaces import (
    experiment_search,
    is_space,
    parse_search,
)
from harness.grid.values import _methods, _resources, _seeds, _snapshots, _train
from harness.grid.yaml_loader import _GridLoader
from methods.training import DEFAULT_TRAIN


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
        exp_seeds = _seeds(exp.get("seeds", seeds), f"{where}.seeds")
        model, methods = {}, []
        if task_cls.needs_model:
            model = model_section(exp.get("model"), f"{where}.model")
            methods = _methods(
                exp.get("methods"), f"{where}.methods", get_method, exp_train, exp_seeds
            )
        experiments.append(
            Experiment(
                name=exp_name,
                task=task_cls.key,
                task_params=task_params,
                data=data,
                model=model,
                methods=methods,
                train=exp_train,
                seeds=exp_seeds,
                resources=_resources(exp.get("resources", {}), f"{where}.resources", resources),
                search=experiment_search(
                    exp.get("search"), f"{where}.search", search, task_cls, task_params
                ),
                snapshots=_snapshots(
                    exp.get("snapshots"), f"{where}.snapshots", methods, exp_train
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
