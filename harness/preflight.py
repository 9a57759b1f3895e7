"""Checks the command line runs before Ray starts, each ending in one line naming the problem and its fix: the
results folder, the environment and options, the data root, and whether each experiment's data exist and fit
its model and task."""

from __future__ import annotations

import os
from pathlib import Path


def check_run(args, grid) -> str:
    """Every check of `run` (and `run --dry-run`) on a read grid, in order: the results folder, the environment
    and options, the data root, the data; the data root to use."""
    from harness.datasets import resolve_data_root

    check_results(Path(args.results))
    check_run_options(args)
    data_root = check_data_root(args.data_root, resolve_data_root)
    check_data(grid, data_root)
    return data_root


def check_data(grid, data_root: str) -> None:
    """Fail before Ray starts when a dataset's files are missing (and cannot be downloaded), when `classes`
    or `limit` leave a split empty, or when the architecture does not fit the images."""
    from harness.datasets import load_dataset
    from tasks import get as get_task

    checked: dict = {}
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
                problem = _architecture_problem(exp.model, tuple(data.image_shape), checked)
                if problem:
                    raise ValueError(
                        f"experiments[{i}].model does not fit {spec['name']} images "
                        f"{tuple(data.image_shape)}: {problem}"
                    )
        problem = get_task(exp.task)(exp.task_params).check_data(loaded)
        if problem:
            raise ValueError(f"experiments[{i}] ({exp.name}): {problem}")


def _architecture_problem(model: dict, image_shape: tuple, checked: dict) -> str:
    """'' when the encoder and decoder of `model` take one image of `image_shape` through, else the error; one
    real forward on the CPU per distinct (model, shape) (the meta device would import torch's compiler, seconds)."""
    import json

    import torch

    from methods.architectures import build_decoder, build_encoder

    key = (json.dumps(model, sort_keys=True, default=str), image_shape)
    if key not in checked:
        try:
            with torch.no_grad():
                build_decoder(model, image_shape)(
                    build_encoder(model, image_shape)(torch.zeros(1, *image_shape))
                )
            checked[key] = ""
        except (ValueError, RuntimeError) as exc:
            checked[key] = str(exc)
    return checked[key]


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


def check_results(results: Path) -> None:
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


def check_run_options(args) -> None:
    from harness.store.locks import lock_settings

    lock_settings()  # LAEBENCH_LOCK_LEASE_S
    cpus = os.environ.get("LAEBENCH_NUM_CPUS")
    if cpus is not None and not (cpus.isdigit() and int(cpus) > 0):
        raise ValueError(
            f"LAEBENCH_NUM_CPUS must be a positive integer (CPUs for a local Ray). Got {cpus!r}."
        )
    if getattr(args, "executor", "ray") == "local" and args.address:
        raise ValueError(
            "--address joins a Ray cluster, --executor local runs without Ray: drop one of them"
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


def check_data_root(data_root: str | None, resolve) -> str:
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
