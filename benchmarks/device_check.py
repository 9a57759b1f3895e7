"""The device check: laebench on one GPU without Ray, in one prepared command (issue 36).

    python -m benchmarks.device_check prepare            # here: wheels and data into .device/ (ignored)
    python -m benchmarks.device_check run --out "$OUT"   # there: the checks, a report under $OUT

`prepare` gathers what the GPU machine lacks into `.device/` (git-ignored, carried by the device tool): the wheels
of BackPACK, laplace-torch and their pure-Python needs that its image does not hold (`WHEELS`, for CPython 3.12),
and MNIST and Fashion-MNIST as xz-compressed IDX files (`harness.datasets` reads .xz; smaller than the .gz
originals; MNIST, the OOD test set only, with its training split cut to 1,000 images: `OOD_ONLY`), and prints how much travels (working tree + .device) against the tool's 64 MiB.

`run` (on the device, after `pip install --no-index --no-deps --target /tmp/site .device/wheels/*.whl` and
`PYTHONPATH=/tmp/site`): (1) the demo grid on the GPU with the local executor; (2) one paper-sized experiment:
Table 3's conv AE on the full 55,000 FashionMNIST training images (`--epochs`, default 10), the online LAE in both
learning-rate settings and its closest rivals (AE with learned variance, post-hoc LAE), one seed, 2,000 test images
per side; then packs its report. What comes back under `--out` (the tool returns at most 8 files): device_check.txt
(device, wall time per step, the leaderboard's headline rows), timings.json, report.tar.gz (the packed report with
its reproduction.md), leaderboard.md. `--size tiny` runs the same steps on the CPU in seconds (digits, synthetic:
a test of the suite runs it).

The device command (one `run` of the device tool, `carry: [".device"]`):
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .device/wheels/*.whl && \\
    PYTHONPATH=/tmp/site:. PYTHONUNBUFFERED=1 python3 -m benchmarks.device_check run --out "$OUT"
"""

from __future__ import annotations

import argparse
import json
import lzma
import math
import shutil
import subprocess
import sys
import tarfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEVICE = ROOT / ".device"
# Not in the GPU machine's image (the device tool's KINDS.md lists what is): pure-Python wheels for CPython 3.12.
WHEELS = (
    "backpack-for-pytorch==1.7.1",
    "unfoldNd==0.2.3",
    "laplace-torch==0.3",
    "asdfghjkl==0.1a4",
    "curvlinops-for-pytorch==2.0.1",
)
LIMIT_MIB = 64

PAPER_GRID = """
name: device-table3
seeds: [0]
resources: {{cpu: 1, gpu: {gpu}}}
plugins: []
train: {{lr: 1.0e-3, batch_size: 64, max_epochs: {epochs}, early_stopping: 8}}
experiments:
  - name: ood-fashionmnist
    task: ood
    task_params: {{n_samples: {{default: 20, lae_online: 10, lae_online_authors_lr: 10}}, max_test: {test},
                  typicality_train: 2000}}
    data: {{train: {train}, ood: {ood}}}
    model: {model}
    methods:
      lae_online: {{hessian: {hessian}}}
      lae_online_authors_lr: {{method: lae_online, hessian: {hessian}, train: {{lr: 1.0e-4, batch_size: 100}}}}
      ae_likelihood: {{}}
      lae_posthoc: {{hessian: {hessian}}}
"""
SIZES = {  # the paper-sized experiment, and the same steps small enough for the CPU in a test
    "full": {"train": "fashionmnist", "ood": "mnist", "model": "{arch: conv, latent_dim: 2}",
             "hessian": "mix", "test": 2000},
    "tiny": {"train": "{name: digits, classes: [0, 1, 2, 3, 4]}",
             "ood": "{name: digits, classes: [5, 6, 7, 8, 9]}",
             "model": "{arch: mlp, latent_dim: 2, hidden: [32]}", "hessian": "exact", "test": 200},
}  # fmt: skip
TINY_DEMO = """
name: demo
seeds: [0]
resources: {cpu: 1, gpu: 0}
plugins: []
train: {max_epochs: 2, batch_size: 32}
experiments:
  - name: recon-synthetic
    task: reconstruction
    data: {train: synthetic}
    model: {arch: mlp, latent_dim: 2, hidden: [16]}
    methods: {ae: {}, vae: {}, lae_online: {hessian: exact}}
"""


def harness(*args: str, log: Path) -> float:
    """`python -m harness ARGS` in a subprocess (its output appended to `log`); its wall time."""
    started = time.perf_counter()
    with log.open("a") as out:
        done = subprocess.run(
            [sys.executable, "-m", "harness", *args], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    if done.returncode != 0:
        raise SystemExit(f"`harness {' '.join(args)}` exited {done.returncode}; see {log}")
    return time.perf_counter() - started


def run(out: Path, size: str, epochs: int, data_root: str | None) -> int:
    import torch

    cuda = torch.cuda.is_available()
    device = torch.cuda.get_device_name(0) if cuda else "cpu"
    work, log = out / "work", out / "device_check.log"
    work.mkdir(parents=True, exist_ok=True)
    data = ["--data-root", data_root] if data_root else []
    if data_root is None and (DEVICE / "data").is_dir():
        data = ["--data-root", str(DEVICE / "data")]
    demo = work / "demo.yaml"
    text = TINY_DEMO if size == "tiny" else (ROOT / "harness" / "grids" / "demo.yaml").read_text()
    demo.write_text(
        text.replace("resources: {cpu: 1, gpu: 0}", f"resources: {{cpu: 1, gpu: {int(cuda)}}}")
    )
    paper = work / "paper.yaml"
    paper.write_text(PAPER_GRID.format(gpu=int(cuda), epochs=epochs, **SIZES[size]))
    results = work / "results"
    times = {"device": device, "size": size, "epochs": epochs}
    times["demo_s"] = harness("run", "--grid", str(demo), "--results", str(results),
                              "--executor", "local", *data, log=log)  # fmt: skip
    times["paper_s"] = harness("run", "--grid", str(paper), "--results", str(results),
                               "--executor", "local", *data, log=log)  # fmt: skip
    packed = work / "report"
    harness("pack", str(results / "device-table3"), str(packed), log=log)
    times["report_s"] = harness(
        "report", str(packed), "--paper", "--plugins", "laebench_paper", log=log
    )
    with tarfile.open(out / "report.tar.gz", "w:gz") as tar:
        tar.add(packed, arcname="device-table3")
    shutil.copy(packed / "leaderboard.md", out / "leaderboard.md")
    (out / "timings.json").write_text(json.dumps(times, indent=1))
    summary = [f"device check on {device} ({size}, {epochs} epochs)"]
    summary += [f"  {k}: {v:.1f}" for k, v in times.items() if k.endswith("_s")]
    summary.append(log.read_text()[-3000:])
    (out / "device_check.txt").write_text("\n".join(summary))
    print("\n".join(summary[:4]))
    shutil.rmtree(work)  # models and records stay on the machine's disk only as long as this run
    return 0


# Data sets the check uses only as the OOD test set: their training split travels cut to its first images (a valid
# IDX file of that many), which leaves the test split (what the check reads) as it is and saves 7.6 MiB of the 64.
# Never point an experiment that trains or searches on them at .device/data.
OOD_ONLY = {"MNIST": 1000}


def first_items(idx: bytes, n: int) -> bytes:
    """An IDX file (images or labels) cut to its first `n` items, its header's count rewritten."""
    dims = idx[3]
    shape = [int.from_bytes(idx[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    n, item = min(n, shape[0]), math.prod(shape[1:])
    header = idx[:4] + n.to_bytes(4, "big") + idx[8 : 4 + 4 * dims]
    return header + idx[4 + 4 * dims : 4 + 4 * dims + n * item]


def prepare(data_root: str | None) -> int:
    """Wheels and xz-compressed data into .device/, and what would travel against the tool's limit."""
    wheels, data = DEVICE / "wheels", DEVICE / "data"
    wheels.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         "--python-version", "3.12", "--implementation", "cp", "-d", str(wheels), *WHEELS],
        check=True,
    )  # fmt: skip
    from harness.datasets import resolve_data_root

    source = Path(data_root) if data_root else resolve_data_root()
    if not (source / "MNIST" / "raw").is_dir() and (ROOT.parent / "shared" / "data").is_dir():
        source = ROOT.parent / "shared" / "data"  # this workplace's read-only copy
    for folder in ("MNIST", "FashionMNIST"):
        (data / folder / "raw").mkdir(parents=True, exist_ok=True)
        for gz in sorted((source / folder / "raw").glob("*-ubyte.gz")):
            target = data / folder / "raw" / (gz.name.removesuffix(".gz") + ".xz")
            if not target.exists():
                import gzip

                raw = gzip.decompress(gz.read_bytes())
                if gz.name.startswith("train") and folder in OOD_ONLY:
                    raw = first_items(raw, OOD_ONLY[folder])
                target.write_bytes(lzma.compress(raw, preset=9))
    tracked = subprocess.run(  # tracked and untracked-not-ignored files: what the device tool sends
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    )  # fmt: skip
    tree = sum((ROOT / f).stat().st_size for f in tracked.stdout.decode().split("\0") if f)
    carried = sum(p.stat().st_size for p in DEVICE.rglob("*") if p.is_file())
    total = (tree + carried) / 2**20
    print(
        f"working tree {tree / 2**20:.1f} MiB + .device {carried / 2**20:.1f} MiB = {total:.1f} MiB "
        f"({'within' if total <= LIMIT_MIB else 'OVER'} the device tool's {LIMIT_MIB} MiB)"
    )
    return 0 if total <= LIMIT_MIB else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=textwrap.dedent(__doc__).splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ready = sub.add_parser("prepare", help="wheels and data into .device/ (here)")
    ready.add_argument("--data-root", default=None, help="where MNIST/ and FashionMNIST/ are")
    go = sub.add_parser("run", help="the checks, a report under --out (there)")
    go.add_argument("--out", type=Path, required=True)
    go.add_argument("--size", choices=tuple(SIZES), default="full")
    go.add_argument("--epochs", type=int, default=10)
    go.add_argument("--data-root", default=None)
    args = parser.parse_args(argv)
    if args.command == "prepare":
        return prepare(args.data_root)
    return run(args.out, args.size, args.epochs if args.size == "full" else 1, args.data_root)


if __name__ == "__main__":
    raise SystemExit(main())
