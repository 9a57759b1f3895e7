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
    SearchSettings,
    experiment_search,
    is_space,
    parse_search,
)
from harness.grid.values import (
    did_you_mean,
    parse_methods,
    parse_resources,
    parse_seeds,
    parse_snapshots,
    parse_train,
)
from harness.grid.yaml_loader import GridLoader
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
        raw = yaml.load(text, Loader=GridLoader)
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
    """A grid file's parsed YAML (`raw`) as a `Grid`: its plugins imported first (looked for in `plugin_paths`),
    then the grid-wide settings, then each experiment over them. Raises ConfigError naming the key path."""
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
    plugins = parse_plugins(raw.get("plugins", []) or [])
    try:
        import_plugins(plugins, plugin_paths or [])
    except ValueError as exc:
        raise ConfigError(f"plugins: {exc}") from None
    seeds = parse_seeds(raw.get("seeds", [0]), "seeds")
    resources = parse_resources(raw.get("resources", {}), "resources", {"cpu": 1, "gpu": 0})
    train = parse_train(raw.get("train", {}), "train", DEFAULT_TRAIN)
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
    experiments = []
    for i, exp in enumerate(experiments_raw):
        where = f"experiments[{i}]"
        taken = {e.name for e in experiments}
        experiment = parse_experiment(exp, where, taken, seeds, resources, train, search)
        experiments.append(experiment)
        _check_grid_spaces(experiment, where)
        _check_importable(experiment, where, plugins)
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


def parse_plugins(plugins) -> list[str]:
    """`plugins:`: module names to import before validating (`my_methods.py` names the module my_methods)."""
    if isinstance(plugins, list):
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
    return plugins


def parse_experiment(
    exp,
    where: str,
    taken: set[str],
    seeds: list[int],
    resources: dict,
    train: dict,
    search: SearchSettings,
) -> Experiment:
    """One entry of `experiments:` (at key path `where`) over the grid-wide `seeds`, `resources`, `train` and
    `search`; its name must not be one of the earlier experiments' (`taken`)."""
    from methods import get as get_method

    require(isinstance(exp, dict), where, "must be a mapping", exp)
    no_unknown(exp, EXPERIMENT_KEYS, where)
    name = _experiment_name(exp.get("name"), f"{where}.name", taken)
    task_cls, task_params = _experiment_task(exp, where)
    data = data_section(exp.get("data"), f"{where}.data", task_cls)
    exp_train = parse_train(exp.get("train", {}), f"{where}.train", train)
    exp_seeds = parse_seeds(exp.get("seeds", seeds), f"{where}.seeds")
    model, methods = {}, []
    if task_cls.needs_model:
        model = model_section(exp.get("model"), f"{where}.model")
        methods = parse_methods(
            exp.get("methods"), f"{where}.methods", get_method, exp_train, exp_seeds
        )
    return Experiment(
        name=name,
        task=task_cls.key,
        task_params=task_params,
        data=data,
        model=model,
        methods=methods,
        train=exp_train,
        seeds=exp_seeds,
        resources=parse_resources(exp.get("resources", {}), f"{where}.resources", resources),
        search=experiment_search(
            exp.get("search"), f"{where}.search", search, task_cls, task_params
        ),
        snapshots=parse_snapshots(exp.get("snapshots"), f"{where}.snapshots", methods, exp_train),
    )


def _experiment_name(name, path: str, taken: set[str]) -> str:
    """An experiment's name: it names a folder of results, so a safe name, unique in the grid."""
    require(
        safe_name(name),
        path,
        f"must be a name of letters, digits, '-', '_', '.' (at most "
        f"{MAX_NAME} characters, not starting with '.'): it names a folder of results",
        name,
    )
    require(name not in taken, path, "must be unique in the grid", name)
    return name


def _experiment_task(exp: dict, where: str) -> tuple[type, dict]:
    """The experiment's registered task class and its validated `task_params`."""
    from tasks import get as get_task

    require(
        isinstance(exp.get("task"), str),
        f"{where}.task",
        "must be a task name (python -m harness list)",
        exp.get("task"),
    )
    try:
        task_cls = get_task(exp.get("task"))
    except ValueError as exc:
        raise ConfigError(f"{where}.task: {exc}{did_you_mean(exp.get('task'), 'tasks')}") from None
    task_params = exp.get("task_params", {}) or {}
    require(isinstance(task_params, dict), f"{where}.task_params", "must be a mapping", task_params)
    try:
        return task_cls, task_cls.validate_params(task_params)
    except ValueError as exc:
        raise ConfigError(f"{where}.task_params: {exc}") from None


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
