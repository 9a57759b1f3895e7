"""Command line: `python -m harness run | report | list`.

Bad input (unknown method, malformed YAML, missing dataset, ...) prints one line `error: ...` and exits
with code 2 before Ray starts; a run in which some trials failed writes its leaderboards and exits 1.
Without `--grid`, `run` uses the embedded default `configs/demo.yaml` (offline, sklearn digits).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DEFAULT_GRID = Path(__file__).resolve().parent.parent / "configs" / "demo.yaml"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m harness", description="laebench: Bayesian autoencoder benchmark")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train missing models and run missing evaluations of a grid")
    run.add_argument("--grid", default=str(DEFAULT_GRID), help="grid YAML (default: the embedded demo)")
    run.add_argument("--results", default="results", help="results directory (default: ./results)")
    run.add_argument("--data-root", default=None, help="dataset root (default: $LAEBENCH_DATA, else the cache)")
    run.add_argument("--address", default=None, help="join a Ray cluster: 'auto' or HOST:PORT")
    run.add_argument("--resume", action="store_true", help="continue interrupted trainings from their last epoch")
    run.add_argument("--dry-run", action="store_true", help="print the trials and exit")
    report = sub.add_parser("report", help="rebuild leaderboards of a results folder from raw trial records")
    report.add_argument("run_dir", help="a grid's results folder, e.g. results/demo")
    sub.add_parser("list", help="list registered methods and tasks")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("interrupted: finished trials are kept; rerun with --resume to continue", file=sys.stderr)
        return 130
    except (ValueError, TypeError, FileNotFoundError, NotImplementedError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2


def _dispatch(args) -> int:
    if args.command == "list":
        import methods
        import tasks

        print("methods:")
        for name, cls in methods.METHODS.items():
            print(f"  {name:<16} {cls.description}")
        print("tasks:")
        for name, cls in tasks.TASKS.items():
            print(f"  {name:<16} {cls.description}")
        return 0
    if args.command == "report":
        from .leaderboard import write_leaderboards

        run_dir = Path(args.run_dir)
        write_leaderboards(run_dir)
        print((run_dir / "leaderboard.md").read_text())
        return 0

    from .config import load_grid
    from .data import resolve_data_root
    from .plan import make_plan
    from .runner import describe, run_grid

    grid = load_grid(args.grid)
    data_root = str(resolve_data_root(args.data_root))
    _check_data(grid, data_root)
    if args.dry_run:
        print(describe(make_plan(grid), grid, Path(args.results).resolve()))
        return 0
    summary = run_grid(grid, args.results, data_root=data_root, address=args.address, resume=args.resume)
    return 0 if summary.ok else 1


def _check_data(grid, data_root: str) -> None:
    """Fail before Ray starts when a dataset's files are missing (and cannot be downloaded)."""
    from .data import load_dataset

    seen = set()
    for exp in grid.experiments:
        for spec in exp.data.values():
            if spec["name"] not in seen:
                seen.add(spec["name"])
                load_dataset(spec["name"], data_root)


if __name__ == "__main__":
    sys.exit(main())
