"""`python -m harness pack RUN_DIR DEST [--merge]` and `python -m harness part GRID ...`: a report's files, and a
grid run in parts (`part` writes the copy of a grid one part runs; `pack --merge` joins the parts' results)."""

from __future__ import annotations

from pathlib import Path


def add_parts_commands(sub) -> None:
    """The `pack` and `part` subcommands of the harness's parser."""
    packer = sub.add_parser(
        "pack",
        help="copy what a report is rebuilt from (trial records, plan, per-input tables "
        "compressed) into another folder, e.g. to commit it",
    )
    packer.add_argument("run_dir", help="a grid's results folder, e.g. results/demo")
    packer.add_argument("dest", help="the folder to write (created)")
    packer.add_argument(
        "--without-inputs",
        nargs="+",
        default=(),
        metavar="EXPERIMENT",
        help="leave these experiments' per-input tables behind (their numbers stay in the records): for "
        "experiments read only through their metrics, e.g. a sweep over training snapshots",
    )
    packer.add_argument(
        "--merge",
        action="store_true",
        help="add this run's trials to the pack already in DEST: a part of the same grid (other seeds or "
        "methods, run elsewhere or later) computed by the same code",
    )
    part = sub.add_parser(
        "part",
        help="write a copy of a grid that runs only some seeds, methods or experiments (a part of a grid run in "
        "parts: its trials keep the whole grid's config hashes; `pack --merge` joins the parts' results)",
    )
    part.add_argument("grid", help="the grid YAML file")
    part.add_argument(
        "--seeds", type=_seeds, default=None, help="e.g. 5-9 or 3,4: replaces every seeds list"
    )
    part.add_argument(
        "--methods", type=_names, default=None, help="method labels to keep, e.g. vae,mc_ae"
    )
    part.add_argument("--experiments", type=_names, default=None, help="experiment names to keep")
    part.add_argument("--gpu", type=float, default=None, help="GPUs per trial in the part (e.g. 1)")
    part.add_argument("--out", default=None, help="write here (default: print)")


def _seeds(text: str) -> list[int]:
    """`5-9` or `3,4` (argparse reports a ValueError as a usage error, one line)."""
    seeds = []
    for piece in filter(None, (p.strip() for p in text.split(","))):
        low, _, high = piece.partition("-")
        seeds += list(range(int(low), int(high or low) + 1))
    if not seeds or min(seeds) < 0:
        raise ValueError(text)
    return sorted(set(seeds))


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def part_command(args) -> int:
    from harness.grid.part import grid_part

    text = grid_part(args.grid, args.seeds, args.methods, args.experiments, args.gpu)
    if args.out:
        Path(args.out).write_text(text)
        print(
            f"wrote {args.out}: run it with `python -m harness run --grid {args.out} --results R`"
        )
    else:
        print(text, end="")
    return 0


def pack_command(args) -> int:
    from harness.store.pack import pack

    size = pack(args.run_dir, args.dest, tuple(args.without_inputs), merge=args.merge)
    print(
        f"packed {args.run_dir} into {args.dest}: {size / 1e6:.1f} MB; rebuild its report with "
        f"`python -m harness report {args.dest} --paper`"
    )
    return 0
