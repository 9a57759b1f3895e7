"""Provenance recorded with every result: git commit, package versions, device, host."""

from __future__ import annotations

import platform
import socket
import subprocess
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch

PACKAGES = (
    "laebench",
    "torch",
    "ray",
    "numpy",
    "scikit-learn",
    "backpack-for-pytorch",
    "laplace-torch",
    "scipy",  # the verdicts' tests (harness.report.paired)
    "statsmodels",
    "pandas",
)


CODE = (
    "*.py",
    "pyproject.toml",
)  # what `-dirty` looks at: the code, not data such as a report being written


def git_commit() -> str:
    """The commit of this package's checkout, `-dirty` when a tracked code file differs from it (`commit_of`)."""
    return commit_of(Path(__file__).resolve().parent.parent)


@lru_cache(maxsize=4)
def commit_of(root: Path) -> str:
    """The commit of the checkout at `root`, `-dirty` when a tracked code file (`CODE`) differs from it: a changed
    report, grid file or other data does not count (a report rebuilding its own folder is not other code)."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--", *CODE],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (commit + ("-dirty" if dirty else "")) if commit else "unknown"


@lru_cache(maxsize=1)
def package_versions() -> str:
    out = [f"python={platform.python_version()}"]
    for name in PACKAGES:
        try:
            out.append(f"{name}={version(name)}")
        except PackageNotFoundError:
            pass
    return ";".join(out)


def parse_versions(text: str | None) -> dict[str, str]:
    """`package_versions()`'s string read back: package -> version."""
    return dict(item.partition("=")[::2] for item in filter(None, (text or "").split(";")))


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu:{platform.processor() or platform.machine()}"


def provenance(device: torch.device) -> dict:
    return {
        "git_commit": git_commit(),
        "versions": package_versions(),
        "device": device_name(device),
        "host": socket.gethostname(),
        "node": ray_node_id(),
    }


def ray_node_id() -> str:
    try:
        import ray

        return ray.get_runtime_context().get_node_id() if ray.is_initialized() else ""
    except Exception:
        return ""
