"""`pack RUN_DIR DEST --merge`: one report from runs of one grid that each ran part of its trials.

A grid's seeds can be split across machines or sessions (seeds 0-2 on a laptop, 3-4 where a GPU was lent), and a
store can be lost between them (the models, never the packed records): each part is run with a copy of the grid
that names only its seeds or methods, and `--merge` adds its trials to the pack in DEST. `merged_plan` checks that
the parts are one grid before anything is written:
- the same grid name and plugins, and every experiment both plans hold equal in every field that determines a
  result (`NOT_RESULT_FIELDS` aside); a method label both hold, the same entry (its seeds aside);
- a trial both hold, the same config hash (the run's record then replaces DEST's: the same configuration);
- each row (experiment, method label) computed by one code: the task's and the method's code fingerprints of DEST's
  records and of the run's agree, so no paired test compares seeds of two versions of a method (the report would
  call such a claim "not comparable"; the model's fingerprint is left out: a post-hoc Laplace's covers the model it
  is fitted to, another for each seed).
The merged plan keeps DEST's order and appends what is new; each method's seeds become the union of both parts'.
Package versions may differ between the parts (a laptop and a GPU box rarely match): `package_changes` names them,
`pack` prints them, and the report lists every version string its records carry.
"""

from __future__ import annotations

from harness.store.provenance import parse_versions
from harness.store.records import NOT_RESULT_FIELDS, TrialRecord, trial_hashes


class MergeError(ValueError):
    """Two packs that are not parts of one grid; the message is one line."""


def merged_plan(
    dest: dict, run: dict, dest_records: list[TrialRecord], run_records: list[TrialRecord]
) -> dict:
    """The plan of DEST's pack with the run's trials added (MergeError when they are not one grid's)."""
    for field in ("grid", "plugins"):
        if dest.get(field) != run.get(field):
            raise MergeError(
                f"cannot merge: the run's {field} is {run.get(field)!r}, the pack's {dest.get(field)!r}; "
                f"merge only runs of one grid (pack this run into a folder of its own instead)"
            )
    _check_code(dest_records, run_records)
    trials = _merged_trials(dest["trials"], run["trials"])
    experiments = dict(dest["experiments"])
    for name, exp in run["experiments"].items():
        experiments[name] = (
            _merged_experiment(experiments[name], exp) if name in experiments else exp
        )
    merged = {**dest, "experiments": experiments, "trials": trials}
    merged["models"] = _merged_layers(dest.get("models", []), run.get("models", []))
    merged["model_keys"] = list(
        dict.fromkeys([*dest.get("model_keys", []), *run.get("model_keys", [])])
    )
    merged["merged_sources"] = list(
        dict.fromkeys([*dest.get("merged_sources", [dest.get("source")]), run.get("source")])
    )
    return merged


def _merged_trials(dest: list[dict], run: list[dict]) -> list[dict]:
    hashes = trial_hashes(dest)
    for trial in run:
        known = hashes.get(trial["trial_id"])
        if known is not None and known != trial["config_hash"]:
            raise MergeError(
                f"cannot merge: trial {trial['trial_id']} has config hash {trial['config_hash']} in the run and "
                f"{known} in the pack (another configuration or code); rerun it with the pack's grid and code"
            )
    return [*dest, *(t for t in run if t["trial_id"] not in hashes)]


def _merged_experiment(dest: dict, run: dict) -> dict:
    name = dest["name"]
    differ = sorted(
        k for k in set(dest) | set(run) if k not in NOT_RESULT_FIELDS and dest.get(k) != run.get(k)
    )
    if differ:
        raise MergeError(
            f"cannot merge: experiment {name} differs in {', '.join(differ)} between the run and the pack; "
            f"merge only runs of one grid"
        )
    seeds = sorted(set(dest["seeds"]) | set(run["seeds"]))
    methods = {m["label"]: m for m in dest["methods"]}
    for entry in run["methods"]:
        label = entry["label"]
        if label not in methods:
            methods[label] = entry
            continue
        known = methods[label]
        if {**known, "seeds": None} != {**entry, "seeds": None}:
            raise MergeError(
                f"cannot merge: method {label} of experiment {name} has other settings in the run than in the "
                f"pack; give it another label in the run's grid"
            )
        both = set(known["seeds"] or dest["seeds"]) | set(entry["seeds"] or run["seeds"])
        methods[label] = {**known, "seeds": None if both == set(seeds) else sorted(both)}
    return {**dest, "seeds": seeds, "methods": list(methods.values())}


def _merged_layers(dest: list[list[dict]], run: list[list[dict]]) -> list[list[dict]]:
    layers = [list(layer) for layer in dest]
    for i, layer in enumerate(run):
        if i == len(layers):
            layers.append([])
        layers[i].extend(spec for spec in layer if spec not in layers[i])
    return layers


def _check_code(dest_records: list[TrialRecord], run_records: list[TrialRecord]) -> None:
    """MergeError when a row's records in the pack and in the run were computed by different code."""

    def code(rec: TrialRecord) -> dict:
        return {part: rec.code.get(part, "") for part in ("task", "method")}

    known = {}
    for rec in dest_records:
        if rec.status == "ok":
            known.setdefault((rec.experiment, rec.label), (code(rec), rec.git_commit))
    for rec in run_records:
        theirs, commit = known.get((rec.experiment, rec.label), (code(rec), rec.git_commit))
        if rec.status == "ok" and code(rec) != theirs:
            changed = " and ".join(k for k in theirs if theirs[k] != code(rec)[k])
            raise MergeError(
                f"cannot merge: {rec.experiment}/{rec.label} was computed by other {changed} code in the pack "
                f"(commit {commit or 'unknown'}) than in the run (commit {rec.git_commit or 'unknown'}); "
                f"rerun its trials at the pack's commit (e.g. in a git worktree) so that one row is one code"
            )


def package_changes(dest_records: list[TrialRecord], run_records: list[TrialRecord]) -> list[str]:
    """`name a -> b` for each package whose versions in the run's records differ from those in DEST's."""

    def versions(records: list[TrialRecord]) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for rec in records:
            for name, version in parse_versions(rec.versions).items():
                found.setdefault(name, set()).add(version)
        return found

    before, after = versions(dest_records), versions(run_records)
    return [
        f"{name} {', '.join(sorted(before.get(name, {'none'})))} -> {', '.join(sorted(after[name]))}"
        for name in sorted(after)
        if after[name] != before.get(name, {"none"})
    ]
