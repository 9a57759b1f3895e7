"""Command line: `python -m harness run | report | list | verify | pack`.

Bad input (unknown method, malformed YAML, missing dataset, ...) prints one line `error: ...` and exits
with code 2 before Ray starts; a run in which some trials failed writes its leaderboards and exits 1.
Without `--grid`, `run` uses the embedded default `configs/demo.yaml` (offline, sklearn digits).
`verify DIR` checks a results store and lists what a rerun would retrain or rerun (exit 1 if anything).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

DEFAULT_GRID = Path(__file__).resolve().parent.parent / "configs" / "demo.yaml"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (`error: ...`, exit 2) like every other bad input."""

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m harness", description="laebench: Bayesian autoencoder benchmark")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train missing models and run missing evaluations of a grid")
    run.add_argument(
        "--grid", default=str(DEFAULT_GRID), help="grid YAML (default: the embedded demo)"
    )
    run.add_argument("--results", default="results", help="results directory (default: ./results)")
    run.add_argument(
        "--data-root", default=None, help="dataset root (default: $LAEBENCH_DATA, else the cache)"
    )
    run.add_argument("--address", default=None, help="join a Ray cluster: 'auto' or HOST:PORT")
    run.add_argument(
        "--resume", action="store_true", help="continue interrupted trainings from their last epoch"
    )
    run.add_argument("--dry-run", action="store_true", help="print the trials and exit")
    run.add_argument(
        "--verbose",
        action="store_true",
        help="stream worker output (epochs, lock waits, warnings) "
        "and Ray's info lines to the terminal too; it always goes to <results>/<grid>/logs/",
    )
    run.add_argument(
        "--reuse-stale",
        action="store_true",
        help="use stored models whose code changed since they "
        "were trained instead of retraining them (the leaderboard marks their cells)",
    )
    report = sub.add_parser(
        "report", help="rebuild leaderboards of a results folder from raw trial records"
    )
    report.add_argument("run_dir", help="a grid's results folder, e.g. results/demo")
    report.add_argument(
        "--paper",
        action="store_true",
        help="also write RUN_DIR/reproduction.md and .html (each "
        "published claim: paper vs ours, a verdict) and the figures under RUN_DIR/figures/",
    )
    lister = sub.add_parser("list", help="list registered methods and tasks")
    lister.add_argument(
        "--params",
        action="store_true",
        help="also each one's parameters: accepted values, default, what it does",
    )
    lister.add_argument(
        "--grid", default=None, help="also the methods and tasks of this grid's plugins"
    )
    lister.add_argument(
        "--plugins",
        default=None,
        help="also those of these plugin modules (comma-separated, "
        "looked up in the working directory)",
    )
    packer = sub.add_parser(
        "pack",
        help="copy what a report is rebuilt from (trial records, plan, per-input tables "
        "compressed) into another folder, e.g. to commit it",
    )
    packer.add_argument("run_dir", help="a grid's results folder, e.g. results/demo")
    packer.add_argument("dest", help="the folder to write (created)")
    verify = sub.add_parser(
        "verify",
        help="check every cached model (size, sha256, spec) and trial record of a "
        "results folder; list what a run would retrain or rerun (exit 1 if anything)",
    )
    verify.add_argument("results", help="a results folder (holding models/), or its models/ folder")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, already printed as one line)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return _dispatch(args)
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(
            "interrupted: finished trials are kept; rerun with --resume to continue",
            file=sys.stderr,
        )
        return 130
    except (ValueError, TypeError, OSError, NotImplementedError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2


def _param_lines(cls) -> list[str]:
    """One line per parameter: from `param_spec` where declared, else the name and its default."""
    spec = getattr(cls, "param_spec", {}) or {}
    return [
        f"{name}: {spec[name].describe()}" if name in spec else f"{name}: default {default!r}"
        for name, default in cls.default_params.items()
    ]


def _dispatch(args) -> int:
    if args.command == "list":
        import methods
        import tasks
        from harness.grid.config import plugin_paths
        from harness.grid.plugins import import_plugins

        if args.grid:
            import yaml

            path = Path(args.grid)
            if not path.is_file():
                raise ValueError(f"--grid {path} is not a file. Pass a grid YAML file.")
            raw = yaml.safe_load(path.read_text()) or {}
            import_plugins(
                [p.removesuffix(".py") for p in raw.get("plugins") or []], plugin_paths(path)
            )
        if args.plugins:
            import_plugins(
                [p.strip().removesuffix(".py") for p in args.plugins.split(",") if p.strip()],
                [os.getcwd()],
            )

        for title, registry in (("methods", methods.METHODS), ("tasks", tasks.TASKS)):
            print(f"{title}:")
            for name, cls in registry.items():
                print(f"  {name:<16} {cls.description}")
                if args.params:
                    for line in _param_lines(cls):
                        print(f"      {line}")
        return 0
    if args.command == "report":
        from harness.report.leaderboard import write_leaderboards

        run_dir = Path(args.run_dir)
        if args.paper:
            from harness.report.document import write_report

            path = write_report(run_dir, command=f"python -m harness report {args.run_dir} --paper")
            text = path.read_text()
            print(text[text.index("## Summary") :].split("\n## ")[0].strip())
            print(f"\nwrote {path}, {path.with_suffix('.html')} and {run_dir / 'figures'}/")
            return 0
        write_leaderboards(run_dir)
        print((run_dir / "leaderboard.md").read_text())
        return 0

    if args.command == "verify":
        return _verify(Path(args.results))
    if args.command == "pack":
        from harness.store.pack import pack

        size = pack(args.run_dir, args.dest)
        print(
            f"packed {args.run_dir} into {args.dest}: {size / 1e6:.1f} MB; rebuild its report with "
            f"`python -m harness report {args.dest} --paper`"
        )
        return 0

    from harness.datasets import resolve_data_root
    from harness.execution.console import Console
    from harness.execution.runner import describe, run_grid
    from harness.grid.config import load_grid
    from harness.grid.plan import make_plan
    from harness.report.summary import print_summary

    _check_results(Path(args.results))
    _check_run_options(args)
    grid = load_grid(args.grid)
    data_root = _check_data_root(args.data_root, resolve_data_root)
    _check_data(grid, data_root)
    if args.dry_run:
        print(describe(make_plan(grid), grid, Path(args.results).resolve()))
        return 0
    console = Console(verbose=args.verbose)
    summary = run_grid(
        grid,
        args.results,
        data_root=data_root,
        address=args.address,
        resume=args.resume,
        reuse_stale=args.reuse_stale,
        console=console,
    )
    board = _write_boards(summary.run_dir, console)  # partial after an interrupt: what finished
    if board is not None and not summary.interrupted:
        print_summary(board, summary.run_dir, console, summary.wall)
    if summary.interrupted:
        trainings, evaluations = summary.left
        print(
            f"interrupted: {trainings} training(s) and {evaluations} evaluation(s) left; rerun with --resume",
            file=sys.stderr,
        )
        return 128 + summary.interrupted
    return 0 if summary.ok else 1


def _write_boards(run_dir: Path, console):
    """The run's leaderboards (under the folder's lock: a concurrent run may write them too), or None."""
    from harness.report.leaderboard import write_leaderboards
    from harness.store.files import DamagedFileError
    from harness.store.locks import exclusive, lock_settings

    if not any((run_dir / "trials").glob("*.json")):
        return None
    try:
        with exclusive(run_dir / "leaderboard.lock", "leaderboards", lock_settings()):
            return write_leaderboards(run_dir)
    except (
        DamagedFileError,
        FileNotFoundError,
    ) as exc:  # the records stay; `report` rebuilds once mended
        console.line(f"[laebench] leaderboards not written: {exc}")
        return None


def _check_data(grid, data_root: str) -> None:
    """Fail before Ray starts when a dataset's files are missing (and cannot be downloaded), when `classes`
    or `limit` leave a split empty, or when the architecture does not fit the images."""
    import torch

    from harness.datasets import load_dataset
    from methods.architectures import build_decoder, build_encoder
    from tasks import get as get_task

    for i, exp in enumerate(grid.experiments):
        loaded = {}
        for role, spec in exp.data.items():
            where = f"experiments[{i}].data.{role}"
            full = load_dataset(spec["name"], data_root)
            if spec.get("classes") is not None and full.train_y.ndim == 1:
                missing = sorted(set(spec["classes"]) - set(full.train_y.unique().tolist()))
                if missing:
                    raise ValueError(
                        f"{where}.classes: {spec['name']} has no class {missing} (its classes: "
                        f"{sorted(full.train_y.unique().tolist())}). Pick classes the dataset has."
                    )
            data = load_dataset(
                spec["name"], data_root, classes=spec.get("classes"), train_limit=spec.get("limit")
            )
            available = len(
                load_dataset(spec["name"], data_root, classes=spec.get("classes")).train_x
            )
            if spec.get("limit") is not None and spec["limit"] > available:
                raise ValueError(
                    f"{where}.limit: {spec['limit']} training images asked for, {spec['name']} has "
                    f"{available}{' in those classes' if spec.get('classes') else ''}. Lower the limit "
                    f"(or drop it for all)."
                )
            loaded[role] = data
            empty = [split for split in ("train", "val", "test") if len(data.split(split)[0]) == 0]
            if empty:
                raise ValueError(
                    f"{where}: {spec['name']} with classes {spec.get('classes')} has no "
                    f"{'/'.join(empty)} images. Pick classes the dataset has."
                )
            if role == "train" and exp.model:
                try:
                    with torch.device("meta"):  # shapes only, no memory
                        build_decoder(exp.model, data.image_shape)(
                            build_encoder(exp.model, data.image_shape)(
                                torch.empty(1, *data.image_shape)
                            )
                        )
                except (ValueError, RuntimeError) as exc:
                    raise ValueError(
                        f"experiments[{i}].model does not fit {spec['name']} images "
                        f"{tuple(data.image_shape)}: {exc}"
                    ) from None
        problem = get_task(exp.task)(exp.task_params).check_data(loaded)
        if problem:
            raise ValueError(f"experiments[{i}] ({exp.name}): {problem}")


def _path_problem(path: Path) -> str:
    """'' when `path` can be looked at, else why not in a few words (a symlink loop, a name too long, ...)."""
    try:
        path.exists()
        path.resolve(strict=False)
    except RuntimeError:  # pathlib's "Symlink loop"
        return "is a symlink loop"
    except OSError as exc:
        return {40: "is a symlink loop", 36: "is too long a path"}.get(
            exc.errno, exc.strerror or str(exc)
        )
    if len(str(path)) > 4000 or any(len(part) > 255 for part in path.parts):
        return "is too long a path"
    return ""


def _check_results(results: Path) -> None:
    """--results must be a folder this user can create or write (nothing is written outside it)."""
    problem = _path_problem(results)
    if problem:
        raise ValueError(f"--results {results} {problem}. Pass a folder you can write.")
    if results.exists() and not results.is_dir():
        raise ValueError(
            f"--results {results} is a file, not a folder. Pass a folder (it is created if missing)."
        )
    existing = results
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(
            f"--results {results}: {existing} is a file, so the folder cannot be created."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"--results {results}: no permission to write in {existing}.")
    cache = os.environ.get("LAEBENCH_CACHE")
    if cache:
        problem = _path_problem(Path(cache)) or (
            "is a file, not a folder" if Path(cache).is_file() else ""
        )
        if problem:
            raise ValueError(
                f"LAEBENCH_CACHE={cache} {problem}. Point it at a folder for decoded datasets (or "
                f"unset it: ~/.cache/laebench)."
            )


def _check_run_options(args) -> None:
    from harness.store.locks import lock_settings

    lock_settings()  # LAEBENCH_LOCK_LEASE_S
    cpus = os.environ.get("LAEBENCH_NUM_CPUS")
    if cpus is not None and not (cpus.isdigit() and int(cpus) > 0):
        raise ValueError(
            f"LAEBENCH_NUM_CPUS must be a positive integer (CPUs for a local Ray). Got {cpus!r}."
        )
    address, source = args.address, "--address"
    if address == "auto":  # as Ray resolves it: RAY_ADDRESS, else the address `ray start` recorded
        from ray._private.utils import read_ray_address

        address, source = os.environ.get("RAY_ADDRESS"), "RAY_ADDRESS"
        if not address:
            address, source = (
                read_ray_address(),
                "the address `ray start` recorded (/tmp/ray/ray_current_cluster)",
            )
        if not address:
            raise ValueError(
                "--address auto: no Ray cluster is running here (no RAY_ADDRESS, nothing recorded by "
                "`ray start`). Start one with `ray start --head`, or drop --address for a local run."
            )
    if address is not None:
        host, _, port = address.removeprefix("ray://").rpartition(":")
        if not (host and port.isdigit() and 0 < int(port) < 65536) or "/" in host:
            raise ValueError(
                f"{source} must be 'auto' or HOST:PORT of a Ray head node (e.g. 10.0.0.1:6379). "
                f"Got {address!r}."
            )
        import socket

        try:  # Ray itself would retry an unreachable (or stale) head for minutes
            socket.create_connection((host, int(port)), timeout=10).close()
        except OSError as exc:
            where = (
                f"{source} {address}"
                if source == "--address"
                else f"--address auto ({source}: {address})"
            )
            raise ValueError(
                f"{where}: no Ray head node answers there ({exc.strerror or exc}). Start one with "
                f"`ray start --head --port={port}`, fix the address, or unset a stale RAY_ADDRESS."
            ) from None


def _check_data_root(data_root: str | None, resolve) -> str:
    source = (
        "--data-root"
        if data_root
        else "LAEBENCH_DATA"
        if os.environ.get("LAEBENCH_DATA")
        else "the default"
    )
    raw = data_root or os.environ.get("LAEBENCH_DATA") or ""
    problem = _path_problem(Path(raw)) if raw else ""
    if problem:
        raise ValueError(f"{source} {raw} {problem}. Pass the folder that holds the datasets.")
    root = resolve(data_root)
    named = f"{source} {root}" if source != "LAEBENCH_DATA" else f"LAEBENCH_DATA={root}"
    if root.exists() and not root.is_dir():
        raise ValueError(
            f"{named} is a file, not a folder. Pass the folder that holds the datasets."
        )
    if source != "the default" and not root.exists():
        raise ValueError(f"{named} does not exist. Pass the folder that holds the datasets.")
    return str(root)


def _verify(results: Path) -> int:
    """`python -m harness verify DIR`: what a rerun would retrain or rerun, one line each."""
    from harness.execution.search import stored_summaries
    from harness.store.models import lock_holder, verify_store

    if not results.is_dir():
        raise ValueError(
            f"{results} is not a folder. Pass a results folder (the --results of a run)."
        )
    _import_recorded_plugins(results)
    entries, reruns, leftovers, stale = verify_store(results)
    if not entries and not reruns:
        raise ValueError(
            f"{results} holds no model entries or trial records. Pass a results folder (the "
            f"--results of a run) or its models/ folder."
        )
    bad = [e for e in entries if not e.ok]
    print(
        f"models: {len(entries)} entries, {len(entries) - len(bad)} verified, {len(bad)} to retrain"
    )
    for e in bad:
        holder = lock_holder(e.folder)
        print(
            f"  retrain {e.folder.name}: {e.reason or 'no model written yet'}"
            + (f" (being trained now by {holder})" if holder else "")
        )
    if stale:
        print(
            f"  {len(stale)} verified model(s) whose code changed since they were trained (a run trains their "
            f"configuration anew; --reuse-stale keeps them):"
        )
    for key, why in stale:
        print(f"  code changed since: {key}: {why}")
    if leftovers:
        print(
            f"  ({leftovers} temporary file(s) left by interrupted writes; removed when their model is retrained)"
        )
    print(f"evaluations: {len(reruns)} record(s) to rerun")
    for trial, why in reruns:
        print(f"  rerun {trial}: {why}")
    searches = stored_summaries(results)
    failed = [s for s in searches if s["status"] != "ok"]
    if searches:
        print(f"searches: {len(searches)} stored, {len(failed)} to search again")
    for s in failed:
        print(f"  search again {s.get('key', '?')}: {s['status']}: {s.get('error', '')}")
    return 1 if bad or reruns or failed or stale else 0


def _import_recorded_plugins(results: Path) -> None:
    """The plugins of every grid in a results folder (`<grid>/plan.json`), so their methods and tasks can be
    checked too; a plugin that no longer imports is named, and checking goes on without it."""
    from harness.grid.plugins import import_plugins

    for plan in sorted(results.glob("*/plan.json")):
        try:
            doc = json.loads(plan.read_text())
            import_plugins(doc.get("plugins") or [], doc.get("plugin_paths") or [])
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            print(
                f"  (plugins of {plan.parent.name} not imported: {' '.join(str(exc).split())[:200]})"
            )


if __name__ == "__main__":
    sys.exit(main())
