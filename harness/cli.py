"""Command line: `python -m harness run | report | list | verify | gc | pack | part`.

Bad input (unknown method, malformed YAML, missing dataset, ...) prints one line `error: ...` and exits
with code 2 before Ray starts; a run in which some trials failed writes its leaderboards and exits 1.
Without `--grid`, `run` uses the embedded default `configs/demo.yaml` (offline, sklearn digits).
`verify DIR` checks a results store and lists what a rerun would retrain or rerun (exit 1 if anything), and the
orphans apart; `gc DIR` lists the orphans and removes them with `--yes`. Reading a folder (`report`, `verify`,
`gc`, `pack`) imports no code it names: plugin modules come only from `--plugins` (or `run --grid`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from harness.parts_cli import add_parts_commands, pack_command, part_command
from harness.preflight import check_run
from harness.verify_cli import gc_command, verify_command

PLUGINS_HELP = (
    "also import these plugin modules (comma-separated, looked up in the working directory): their "
    "methods, tasks and papers"
)

DEFAULT_GRID = (
    Path(__file__).resolve().parent / "grids" / "demo.yaml"
)  # in the wheel; configs/demo.yaml links it


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (`error: ...`, exit 2) like every other bad input."""

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m harness", description="laebench: Bayesian autoencoder benchmark")
    sub = p.add_subparsers(dest="command", required=True)
    _add_run(sub)
    _add_readers(sub)
    return p


def _add_run(sub) -> None:
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
        "--executor",
        choices=("ray", "local"),
        default="ray",
        help="where trials run: 'ray' (Ray Tune, parallel; the default) or 'local' (one after another in "
        "this process: no Ray needed, a breakpoint works)",
    )
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


def _add_readers(sub) -> None:
    """The commands that read a folder or the registries: none imports code a folder names."""
    report = sub.add_parser(
        "report", help="rebuild leaderboards of a results folder from raw trial records"
    )
    report.add_argument("run_dir", help="a grid's results folder, e.g. results/demo")
    report.add_argument(
        "--paper",
        action="store_true",
        help="also write RUN_DIR/reproduction.md and .html (each "
        "published claim: paper vs ours, a verdict), verdicts.csv (the verdicts and their tests, a row per "
        "comparison) and the figures under RUN_DIR/figures/",
    )
    report.add_argument("--plugins", default=None, help=PLUGINS_HELP)
    lister = sub.add_parser("list", help="list registered methods and tasks")
    lister.add_argument(
        "--params",
        action="store_true",
        help="also each one's parameters: accepted values, default, what it does",
    )
    lister.add_argument(
        "--grid", default=None, help="also the methods and tasks of this grid's plugins"
    )
    lister.add_argument("--plugins", default=None, help=PLUGINS_HELP)
    add_parts_commands(sub)
    verify = sub.add_parser(
        "verify",
        help="check what the current plans of a results folder need (models: size, sha256, spec, derived "
        "files; trial records); list what a run would redo (exit 1 if anything), orphans apart",
    )
    verify.add_argument("results", help="a results folder (holding models/), or its models/ folder")
    verify.add_argument("--plugins", default=None, help=PLUGINS_HELP)
    gc = sub.add_parser(
        "gc",
        help="list the models, trial records and temporary files of a results folder that no current "
        "plan needs (orphans), with their sizes; remove them with --yes",
    )
    gc.add_argument("results", help="a results folder (the --results of a run)")
    gc.add_argument("--yes", action="store_true", help="remove the orphans listed")
    gc.add_argument("--plugins", default=None, help=PLUGINS_HELP)


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


def _import_named_plugins(text: str | None) -> None:
    """`--plugins a,b`: modules the user names, looked up in the working directory (never in a folder read)."""
    from harness.grid.plugins import import_plugins

    names = [p.strip().removesuffix(".py") for p in (text or "").split(",") if p.strip()]
    if names:
        import_plugins(names, [os.getcwd()])


def _dispatch(args) -> int:
    if args.command in ("list", "report", "verify", "gc"):
        _import_named_plugins(args.plugins)
    commands = {
        "list": _list,
        "report": _report,
        "verify": lambda a: verify_command(Path(a.results)),
        "gc": lambda a: gc_command(Path(a.results), a.yes),
        "pack": pack_command,
        "part": part_command,
    }
    return commands.get(args.command, _run)(args)


def _list(args) -> int:
    from harness.listing import cached_listing, listing

    named = bool(args.grid or args.plugins)
    if args.grid:
        import yaml

        from harness.grid.config import plugin_paths
        from harness.grid.plugins import import_plugins

        path = Path(args.grid)
        if not path.is_file():
            raise ValueError(f"--grid {path} is not a file. Pass a grid YAML file.")
        raw = yaml.safe_load(path.read_text()) or {}
        import_plugins(
            [p.removesuffix(".py") for p in raw.get("plugins") or []], plugin_paths(path)
        )
    print("\n".join(listing(args.params) if named else cached_listing(args.params)))
    return 0


def _report(args) -> int:
    from harness.report.leaderboard import write_leaderboards

    run_dir = Path(args.run_dir)
    if args.paper:
        from harness.report.document import write_report

        named = f" --plugins {args.plugins}" if args.plugins else ""
        path = write_report(
            run_dir, command=f"python -m harness report {args.run_dir} --paper{named}"
        )
        text = path.read_text()
        print(text[text.index("## Summary") :].split("\n## ")[0].strip())
        print(f"\nwrote {path}, {path.with_suffix('.html')} and {run_dir / 'figures'}/")
        return 0
    write_leaderboards(run_dir)
    print((run_dir / "leaderboard.md").read_text())
    return 0


def _run(args) -> int:
    from harness.execution.dry_run import describe
    from harness.execution.run import run_grid
    from harness.execution.terminal import Console
    from harness.grid.config import load_grid
    from harness.report.summary import end_of_run, run_leaderboards

    grid = load_grid(args.grid)
    data_root = check_run(args, grid)
    if args.dry_run:
        print(describe(grid, Path(args.results).resolve()))
        return 0
    console = Console(verbose=args.verbose)
    summary = run_grid(
        grid,
        args.results,
        data_root=data_root,
        address=args.address,
        executor=args.executor,
        resume=args.resume,
        reuse_stale=args.reuse_stale,
        console=console,
    )
    board, problem = run_leaderboards(summary.run_dir)  # partial after an interrupt: what finished
    if problem:
        console.line(f"[laebench] leaderboards not written: {problem}")
    if board is not None and not summary.interrupted:
        header, rows, closing = end_of_run(board, summary.run_dir, summary.wall, console.phases)
        console.table(header, rows, "laebench: headline numbers")
        for line in closing:
            console.line(line)
    if summary.interrupted:
        trainings, evaluations = summary.left
        print(
            f"interrupted: {trainings} training(s) and {evaluations} evaluation(s) left; rerun with --resume",
            file=sys.stderr,
        )
        return 128 + summary.interrupted
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())
