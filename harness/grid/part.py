"""`python -m harness part GRID`: a copy of a grid that runs only some of its seeds, methods or experiments.

A grid too long for one machine or one session (a model store that does not outlive it) runs in parts, and
`pack --merge` makes one report of them. Each part is such a copy: the same experiments with the same settings,
only the lists of what runs shortened or moved (`--seeds` replaces every kept experiment's and method's seeds,
`--methods` and `--experiments` keep those labels and names, `--gpu` sets what each trial asks for), so every trial
of the part has the config hash the whole grid gives it: a grid's seeds and resources say which trials exist and
where they run, not what one computes (`harness.store.records.NOT_RESULT_FIELDS`). `grid_part` checks the copy the
way a run reads it and compares its trials' hashes with the whole grid's before returning it.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from harness.grid.checks import ConfigError
from harness.grid.config import load_grid, parse_grid, plugin_paths
from harness.grid.plan import make_plan
from harness.grid.yaml_loader import GridLoader


def grid_part(
    path: str | Path,
    seeds: list[int] | None = None,
    methods: list[str] | None = None,
    experiments: list[str] | None = None,
    gpu: float | None = None,
) -> str:
    """The YAML text of the part of the grid at `path`; ConfigError (one line) on a name the grid lacks."""
    path = Path(path)
    whole = load_grid(path)  # the grid as a run reads it: a malformed one fails here, as in `run`
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=GridLoader)
    names = [e.name for e in whole.experiments]
    labels = {label for e in whole.experiments for label in (m.label for m in e.methods)}
    _known("experiment", experiments, names, path)
    _known("method", methods, sorted(labels), path)
    kept = []
    for exp, entry in zip(whole.experiments, raw["experiments"]):
        if experiments is not None and exp.name not in experiments:
            continue
        if entry.get("methods") is None:  # a task that trains its own models (Hessian scaling)
            if methods is not None:
                continue
            entry = dict(entry)
        else:
            rows = {k: v for k, v in entry["methods"].items() if methods is None or k in methods}
            if not rows:
                continue
            entry = {**entry, "methods": _with_seeds(rows, seeds)}
        if seeds is not None and "seeds" in entry:
            entry["seeds"] = list(seeds)
        kept.append(entry)
    if not kept:
        raise ConfigError(
            f"{path}: no experiment of the grid runs {', '.join(methods or [])}: name methods of the "
            f"experiments kept ({', '.join(experiments or names)})"
        )
    raw["experiments"] = kept
    if seeds is not None:
        raw["seeds"] = list(seeds)
    if gpu is not None:
        raw["resources"] = {**(raw.get("resources") or {}), "gpu": gpu}
        for entry in kept:
            if "resources" in entry:
                entry["resources"] = {**entry["resources"], "gpu": gpu}
    text = _header(path, seeds, methods, experiments, gpu) + yaml.safe_dump(
        raw, sort_keys=False, width=120, default_flow_style=None
    )
    _check_hashes(whole, parse_grid(yaml.safe_load(text), str(path), plugin_paths(path)))
    return text


def _with_seeds(rows: dict, seeds: list[int] | None) -> dict:
    """The method rows, those with their own `seeds` given the part's."""
    if seeds is None:
        return rows
    return {
        label: {**params, "seeds": list(seeds)}
        if isinstance(params, dict) and "seeds" in params
        else params
        for label, params in rows.items()
    }


def _known(kind: str, asked: list[str] | None, present: list[str], path: Path) -> None:
    unknown = sorted(set(asked or []) - set(present))
    if unknown:
        raise ConfigError(
            f"{path} has no {kind} {', '.join(unknown)}; its {kind}s: {', '.join(present)}"
        )


def _header(path, seeds, methods, experiments, gpu) -> str:
    said = [
        f"{what} {', '.join(map(str, values))}"
        for what, values in (("seeds", seeds), ("methods", methods), ("experiments", experiments))
        if values
    ] + ([f"gpu {gpu} per trial"] if gpu is not None else [])
    return (
        f"# A part of {path.name} ({'; '.join(said) or 'all of it'}), written by `python -m harness part`:\n"
        f"# its trials have the whole grid's config hashes, so `python -m harness pack R/<grid> DEST --merge`\n"
        f"# adds its results to a pack of the other parts. Run it at the commit the other parts ran.\n"
    )


def _check_hashes(whole, part) -> None:
    """ConfigError if a trial both grids plan has another config hash in the part (a bug here, not the user's)."""
    full = {job.trial_id: job.config_hash for job in make_plan(whole).evals}
    for job in make_plan(part).evals:
        if full.get(job.trial_id, job.config_hash) != job.config_hash:
            raise ConfigError(
                f"the part's trial {job.trial_id} would have config hash {job.config_hash}, the whole grid's "
                f"{full[job.trial_id]}: its results could not be merged (report this as a laebench bug)"
            )
