"""The walk of one trial from the grid file to its leaderboard row, measured: which layers of the package a run
enters, in which order, and how often it comes back to one it left.

Runs `python -m harness run` in this process (the local executor by default, so the trial's own work is traced too;
`--executor ray` traces the driver only) on a one-method, one-seed grid, with a profile hook that notes every call
whose caller and callee live in different layers (`harness.cli`, `harness.grid`, `harness.execution`,
`harness.store`, `harness.report`, and the harness's single modules; methods, tasks and libraries sit below the
layers and are not counted). Consecutive calls within a layer collapse;
what is printed: the layer sequence, the number of layer entries, the returns (entries into a layer visited before
and left since) per layer, the harness files entered, and the calls that go up the layers (a lower layer calling
a higher one: cli > execution, report > grid > store, datasets), which the design forbids.

    python -m benchmarks.trial_walk [--executor local|ray]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import textwrap
from collections import Counter
from pathlib import Path

GRID = textwrap.dedent("""
    name: walk
    seeds: [0]
    train: {max_epochs: 1, batch_size: 32}
    experiments:
      - name: recon
        task: reconstruction
        data: {train: synthetic}
        model: {arch: mlp, latent_dim: 2, hidden: [8]}
        methods: {ae: {}}
""")
ROOT = Path(__file__).resolve().parent.parent
SPLIT = ("harness",)  # packages whose sub-packages count as layers of their own
# The order of the layers: a call from a layer to one above it (a smaller rank) goes against the design.
RANK = {
    "harness.cli": 0,
    "harness.__main__": 0,
    "harness.preflight": 1,
    "harness.verify_cli": 1,
    "harness.execution": 1,
    "harness.report": 1,
    "harness.grid": 2,
    "harness.datasets": 3,
    "harness.store": 3,
}


def layer(filename: str) -> str | None:
    try:
        rel = Path(filename).resolve().relative_to(ROOT)
    except ValueError:
        return None
    parts = rel.with_suffix("").parts
    if parts[0] not in SPLIT or rel.suffix != ".py":
        return None  # the layers of the harness only: methods, tasks and libraries are below them
    return f"{parts[0]}.{parts[1]}" if len(parts) > 2 else ".".join(parts)


def walk(executor: str) -> tuple[list[str], set[str]]:
    from harness.cli import main

    steps, files, upward = [], set(), Counter()

    def hook(frame, event, arg):
        if event != "call" or _importing(frame):  # calls, not imports
            return
        callee = layer(frame.f_code.co_filename)
        if callee is None:
            return
        files.add(str(Path(frame.f_code.co_filename).resolve().relative_to(ROOT)))
        caller = _calling_layer(frame.f_back)
        if caller is not None and RANK.get(callee, 9) < RANK.get(caller, 9):
            upward[f"{caller} -> {callee}"] += 1
        if not steps or steps[-1] != callee:
            steps.append(callee)

    with tempfile.TemporaryDirectory() as tmp:
        grid = Path(tmp) / "walk.yaml"
        grid.write_text(GRID)
        sys.setprofile(hook)
        try:
            extra = ["--executor", "local"] if executor == "local" else []
            code = main(["run", "--grid", str(grid), "--results", tmp, *extra])
        finally:
            sys.setprofile(None)
    if code != 0:
        raise SystemExit(f"the run failed (exit {code})")
    return steps, files, upward


def _importing(frame) -> bool:
    """A module's body, or what it runs as it is imported (a class body, a decorator): not a call of the walk."""
    return frame.f_code.co_name == "<module>" or (
        frame.f_back is not None
        and frame.f_back.f_code.co_name == "<module>"
        and layer(frame.f_back.f_code.co_filename) is not None
    )


def _calling_layer(frame) -> str | None:
    """The layer of the nearest frame below `frame` that belongs to one (library frames are skipped)."""
    while frame is not None:
        found = layer(frame.f_code.co_filename)
        if found is not None:
            return found
        frame = frame.f_back
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executor", default="local", choices=("local", "ray"))
    args = parser.parse_args(argv)
    steps, files, upward = walk(args.executor)
    seen, returns = set(), Counter()
    for step in steps:
        if step in seen:
            returns[step] += 1
        seen.add(step)
    print(" -> ".join(steps))
    print(f"layer entries: {len(steps)}; returns to a layer left before: {sum(returns.values())}")
    for name, n in returns.most_common():
        print(f"  {name}: {n}")
    print(f"harness files entered: {len(files)}")
    print(f"calls up the layers (against the design): {sum(upward.values())}")
    for name, n in upward.most_common():
        print(f"  {name}: {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
