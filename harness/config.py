"""Grid files: YAML parsed and validated up front into plain dataclasses.

`load_grid(path)` returns a `Grid`; any bad key, type or value raises `ConfigError` whose message
starts with the key path (`experiments[2].train.lr must be a positive number. Got -0.001.`), so the
CLI can print one line and exit 2 before Ray starts. Plugins named in the grid are imported first,
so their methods and tasks validate like built-in ones. See `configs/demo.yaml` for the shape.
"""
from __future__ import annotations

import copy
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from methods.architectures import architecture_options
from methods.base import ModelSpec
from methods.training import DEFAULT_TRAIN
from harness.data import DATASETS
from harness.registry import import_plugins

GRID_KEYS = {"name", "description", "seeds", "resources", "plugins", "train", "experiments"}
EXPERIMENT_KEYS = {"name", "task", "task_params", "data", "model", "methods", "train", "seeds", "resources"}
TRAIN_KEYS = set(DEFAULT_TRAIN)


class ConfigError(ValueError):
    """A grid file is malformed; the message names the key path and the fix."""


@dataclass
class MethodEntry:
    label: str  # the leaderboard's row name
    key: str  # registered method key
    params: dict


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

    def spec(self, entry: MethodEntry, seed: int) -> ModelSpec:
        return ModelSpec(method=entry.key, params=entry.params, data=self.data["train"], model=self.model,
                         train=self.train, seed=seed)


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


def load_grid(path: str | Path) -> Grid:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"Grid file {path} does not exist. Pass --grid with a YAML file (see configs/).")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: malformed YAML{at}: {problem}. Fix the syntax.") from None
    # Plugins may sit next to the grid file or in the working directory.
    for folder in (str(path.resolve().parent), os.getcwd()):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    return parse_grid(raw, source=str(path))


def parse_grid(raw, source: str = "<grid>") -> Grid:
    from methods import get as get_method
    from tasks import get as get_task

    _require(isinstance(raw, dict), "grid", "must be a mapping with keys name, experiments, ...", raw)
    _no_unknown(raw, GRID_KEYS, "grid")
    name = raw.get("name")
    _require(isinstance(name, str) and name.replace("-", "_").replace(".", "_").isidentifier(), "name",
             "must be a name of letters, digits, '-', '_' (it names the results folder)", name)
    plugins = raw.get("plugins", []) or []
    _require(isinstance(plugins, list) and all(isinstance(p, str) for p in plugins), "plugins",
             "must be a list of module names", plugins)
    try:
        import_plugins(plugins)
    except ValueError as exc:
        raise ConfigError(f"plugins: {exc}") from None
    seeds = _seeds(raw.get("seeds", [0]), "seeds")
    resources = _resources(raw.get("resources", {}), "resources", {"cpu": 1, "gpu": 0})
    train = _train(raw.get("train", {}), "train", DEFAULT_TRAIN)
    experiments_raw = raw.get("experiments")
    _require(isinstance(experiments_raw, list) and experiments_raw, "experiments", "must be a non-empty list",
             experiments_raw)
    experiments, seen = [], set()
    for i, exp in enumerate(experiments_raw):
        where = f"experiments[{i}]"
        _require(isinstance(exp, dict), where, "must be a mapping", exp)
        _no_unknown(exp, EXPERIMENT_KEYS, where)
        exp_name = exp.get("name")
        _require(isinstance(exp_name, str) and exp_name and "/" not in exp_name, f"{where}.name",
                 "must be a non-empty string without '/'", exp_name)
        _require(exp_name not in seen, f"{where}.name", "must be unique in the grid", exp_name)
        seen.add(exp_name)
        try:
            task_cls = get_task(exp.get("task"))
        except ValueError as exc:
            raise ConfigError(f"{where}.task: {exc}") from None
        task_params = exp.get("task_params", {}) or {}
        _require(isinstance(task_params, dict), f"{where}.task_params", "must be a mapping", task_params)
        try:
            task_params = task_cls.validate_params(task_params)
        except ValueError as exc:
            raise ConfigError(f"{where}.task_params: {exc}") from None
        data = _data(exp.get("data"), f"{where}.data", task_cls)
        model, methods = {}, []
        if task_cls.needs_model:
            model = _model(exp.get("model"), f"{where}.model")
            methods = _methods(exp.get("methods"), f"{where}.methods", get_method)
        experiments.append(Experiment(
            name=exp_name, task=task_cls.key, task_params=task_params, data=data, model=model, methods=methods,
            train=_train(exp.get("train", {}), f"{where}.train", train),
            seeds=_seeds(exp.get("seeds", seeds), f"{where}.seeds"),
            resources=_resources(exp.get("resources", {}), f"{where}.resources", resources)))
    return Grid(name=name, seeds=seeds, resources=resources, plugins=plugins, train=train,
                experiments=experiments, source=source, raw=raw)


def _require(ok: bool, path: str, what: str, got) -> None:
    if not ok:
        raise ConfigError(f"{path} {what}. Got {got!r}.")


def _no_unknown(mapping: dict, allowed: set, path: str) -> None:
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown}. Allowed: {', '.join(sorted(allowed))}.")


def _seeds(value, path) -> list[int]:
    _require(isinstance(value, list) and value and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                                        for s in value),
             path, "must be a non-empty list of non-negative integers", value)
    _require(len(set(value)) == len(value), path, "must not repeat a seed", value)
    return list(value)


def _resources(value, path, base: dict) -> dict:
    _require(isinstance(value, dict), path, "must be a mapping like {cpu: 1, gpu: 0.5}", value)
    _no_unknown(value, {"cpu", "gpu"}, path)
    out = {**base, **value}
    _require(_is_number(out["cpu"]) and out["cpu"] > 0, f"{path}.cpu", "must be a positive number", out["cpu"])
    _require(_is_number(out["gpu"]) and out["gpu"] >= 0, f"{path}.gpu", "must be a number >= 0", out["gpu"])
    return out


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _train(value, path, base: dict) -> dict:
    _require(isinstance(value, dict), path, "must be a mapping", value)
    _no_unknown(value, TRAIN_KEYS, path)
    out = copy.deepcopy(base)
    for key, v in value.items():
        p = f"{path}.{key}"
        if key == "plateau":
            _require(isinstance(v, dict), p, "must be a mapping {factor, patience}", v)
            _no_unknown(v, {"factor", "patience"}, p)
            if "factor" in v:
                _require(_is_number(v["factor"]) and 0 < v["factor"] < 1, f"{p}.factor",
                         "must be a number in (0, 1)", v["factor"])
            if "patience" in v:
                _require(isinstance(v["patience"], int) and v["patience"] >= 0, f"{p}.patience",
                         "must be a non-negative integer", v["patience"])
            out["plateau"] = {**out["plateau"], **v}
        elif key in ("lr",):
            _require(_is_number(v) and v > 0, p, "must be a positive number", v)
            out[key] = float(v)
        elif key == "weight_decay":
            _require(_is_number(v) and v >= 0, p, "must be a number >= 0", v)
            out[key] = float(v)
        else:  # batch_size, max_epochs, early_stopping
            _require(isinstance(v, int) and not isinstance(v, bool) and v > 0, p, "must be a positive integer", v)
            out[key] = v
    return out


def _dataset_spec(value, path) -> dict:
    if isinstance(value, str):
        value = {"name": value}
    _require(isinstance(value, dict), path, "must be a dataset name or {name, classes, limit}", value)
    _no_unknown(value, {"name", "classes", "limit"}, path)
    _require(value.get("name") in DATASETS, f"{path}.name", f"must be one of {', '.join(DATASETS)}",
             value.get("name"))
    classes = value.get("classes")
    if classes is not None:
        _require(isinstance(classes, list) and classes and all(isinstance(c, int) for c in classes),
                 f"{path}.classes", "must be a non-empty list of class indices", classes)
    limit = value.get("limit")
    if limit is not None:
        _require(isinstance(limit, int) and limit > 0, f"{path}.limit", "must be a positive integer", limit)
    return {"name": value["name"], "classes": classes, "limit": limit}


def _data(value, path, task_cls) -> dict:
    if value is None and not task_cls.needs_model and not task_cls.data_roles:
        return {}
    _require(isinstance(value, dict) and "train" in value, path, "must be a mapping with a 'train' dataset", value)
    allowed = {"train", *task_cls.data_roles}
    _no_unknown(value, allowed, path)
    for role in task_cls.data_roles:
        _require(role in value, f"{path}.{role}", f"is required by task '{task_cls.key}'", None)
    return {role: _dataset_spec(v, f"{path}.{role}") for role, v in value.items()}


def _model(value, path) -> dict:
    _require(isinstance(value, dict), path, "must be a mapping like {arch: mlp, latent_dim: 2}", value)
    try:
        opts = architecture_options(value)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    k = opts.get("latent_dim")
    _require(isinstance(k, int) and k > 0, f"{path}.latent_dim", "must be a positive integer", k)
    return dict(value)


def _methods(value, path, get_method) -> list[MethodEntry]:
    _require(isinstance(value, dict) and value, path,
             "must be a non-empty mapping of method name to parameters, e.g. {ae: {}}", value)
    entries = []
    for label, params in value.items():
        p = f"{path}.{label}"
        params = dict(params or {})
        _require(isinstance(params, dict), p, "must be a mapping of parameters", params)
        key = params.pop("method", label)
        try:
            cls = get_method(key)
            params = cls.validate_params(params)
        except ValueError as exc:
            raise ConfigError(f"{p}: {exc}") from None
        entries.append(MethodEntry(label=str(label), key=key, params=params))
    return entries
