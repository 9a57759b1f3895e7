"""Ray for a run: a private local instance (token authentication as Ray sets it, loopback only, quiet) or a
cluster joined, the resources a grid asks of it, and shutting down what a run started."""

from __future__ import annotations

import logging
import os
import signal
import threading
from contextlib import contextmanager

from harness.grid.schema import Grid


def init_ray(address: str | None, plugin_folders: list[str], verbose: bool = False) -> bool:
    """Start a private local Ray instance (no `address`) or join a cluster, with Ray's authentication as it is;
    True when this call started an instance (the run shuts it down at its end).

    laebench never sets `RAY_AUTH_MODE`: a local instance runs with the token Ray generates (Ray >= 2.59
    turns token authentication on for local clusters), a cluster with whatever its operator configured.
    A local instance listens on the loopback address only (`RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`, Ray's own
    single-machine mode), so nothing off this machine can reach its GCS or raylets at all. Unless `verbose`,
    Ray's and Tune's info lines (start banner, state writes) are off and worker output stays in the trials'
    log files (`harness.execution.terminal.trial_log`) instead of being forwarded here.

    The workers' import path is their Python environment (laebench itself is installed), the user's own
    `$PYTHONPATH`, and `plugin_folders` (the folders the grid's plugins were found in,
    `harness.grid.plugins.plugin_folders`): not the working directory, which Ray would add (`worker_job_config`).
    The SIGTERM handler in place before (the run's `Stop`) is put back: Ray replaces it with its own.
    """
    import logging

    import ray

    # Tune's console tables and banners off: harness.execution.terminal shows one progress view per phase instead
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    quiet_token_notice()
    quiet_tune_advice(verbose)
    level = logging.INFO if verbose else logging.WARNING
    for name in ("ray.tune", "ray.train", "ray.air"):
        logging.getLogger(name).setLevel(level)
    if ray.is_initialized():
        return False
    kwargs = {
        "include_dashboard": False,
        "job_config": worker_job_config(plugin_folders),
        "log_to_driver": verbose,
        "logging_level": level,
    }
    with _sigterm_kept():
        if address:
            ray.init(address=address, **kwargs)
            return False  # a cluster this run joined: it stays up
        num_cpus = int(os.environ.get("LAEBENCH_NUM_CPUS", os.cpu_count() or 1))
        loopback_only()
        # "local": always a fresh instance of our own; without it Ray joins any `ray start` cluster it finds
        # on this machine (another user's, a test's) and then refuses num_cpus.
        ray.init(address="local", num_cpus=num_cpus, **kwargs)
    return True


class _NoDriverPaths(list):
    """The job's `py_driver_sys_path`, which Ray's `connect` extends with the driver's working directory (and
    script folder) for every worker to put first on `sys.path`: those additions are dropped."""

    def extend(self, paths) -> None:
        pass


def worker_job_config(plugin_folders: list[str]):
    """Ray's job configuration for a run: PYTHONPATH = the plugin folders (then the user's own `$PYTHONPATH`),
    LAEBENCH_CACHE and LAEBENCH_DATA passed on, and no driver folder added to the workers' `sys.path`."""
    from ray.job_config import JobConfig

    paths = [p for p in [*plugin_folders, os.environ.get("PYTHONPATH", "")] if p]
    env_vars = {"PYTHONPATH": os.pathsep.join(paths)}
    for var in ("LAEBENCH_CACHE", "LAEBENCH_DATA"):
        if os.environ.get(var):
            env_vars[var] = os.environ[var]
    config = JobConfig(runtime_env={"env_vars": env_vars})
    config._py_driver_sys_path = _NoDriverPaths()
    return config


@contextmanager
def _sigterm_kept():
    """Ray's `init` sets a SIGTERM handler (`sys.exit`) and its core worker then installs absl's failure handler,
    which aborts the driver (exit 134) on SIGTERM: the handler in place before is put back."""
    main = threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGTERM) if main else None
    try:
        yield
    finally:
        if main and before is not None:
            signal.signal(signal.SIGTERM, before)


LOOPBACK_VAR = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def loopback_only() -> None:
    """Make the next local Ray instance listen on 127.0.0.1 only (unless the user set `LOOPBACK_VAR`).

    Ray binds its GCS and raylets to 127.0.0.1 when its node address is the loopback one, which it chooses
    when clusters are off (`LOOPBACK_VAR=0`, its default on macOS and Windows). Ray reads the variable once,
    at import, into `ray_constants.ENABLE_RAY_CLUSTER`, so the constant is refreshed too (ray may be imported
    already); `tests/test_untrusted_files.py` checks the address, so a Ray that changes this is noticed.
    """
    from ray._private import ray_constants

    os.environ.setdefault(LOOPBACK_VAR, "0")
    ray_constants.ENABLE_RAY_CLUSTER = ray_constants.env_bool(LOOPBACK_VAR, True)


class _TokenNotice(logging.Filter):
    """Drops Ray's notice that token authentication is on (the state laebench wants, not news); keeps its
    warning that authentication is *off*."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(
            "Token authentication is enabled for this Ray cluster"
        )


def quiet_token_notice() -> None:
    logger = logging.getLogger("ray._private.authentication.authentication_token_setup")
    if not any(isinstance(f, _TokenNotice) for f in logger.filters):
        logger.addFilter(_TokenNotice())


class _TuneAdvice(logging.Filter):
    """Drops Tune's own lines about a stopped experiment (the stop notice, the unfinished trials, "Resume
    experiment with: Tuner.restore(...)" and "Failed to fetch metrics" for a trial stopped before its first
    result): laebench's `interrupted: ... rerun with --resume` is the advice, and Tune's state files are never to be
    restored (they are pickles)."""

    DROPPED = (
        "Stop signal received",
        "Trials did not complete",
        "Resume experiment with",
        "Failed to fetch metrics",
    )

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in self.DROPPED)


class _TuneTimings(logging.Filter):
    """Drops Tune's notes that one of its own callbacks took longer than it expects ("The `on_step_begin`
    operation took 0.6 s, which may be a performance bottleneck"): on a loaded machine they come by the dozen and
    say nothing about the run (`--verbose` keeps them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "may be a performance bottleneck" not in record.getMessage()


def quiet_tune_advice(verbose: bool = False) -> None:
    for name, kind in (
        ("ray.tune.tune", _TuneAdvice),
        ("ray.tune.analysis.experiment_analysis", _TuneAdvice),
        ("ray.tune.utils.util", _TuneTimings),
    ):
        logger = logging.getLogger(name)
        if kind is _TuneTimings and verbose:
            continue
        if not any(isinstance(f, kind) for f in logger.filters):
            logger.addFilter(kind())


def check_resources(grid: Grid) -> None:
    """A trial asking for more than the cluster has would wait forever: fail now, saying what to change."""
    import ray

    have = ray.cluster_resources()
    for exp in grid.experiments:
        for kind, name in (("cpu", "CPU"), ("gpu", "GPU")):
            need = exp.resources[kind]
            if need > have.get(name, 0):
                raise ValueError(
                    f"Experiment '{exp.name}' asks for {kind}: {need} per trial but the Ray cluster has "
                    f"{have.get(name, 0):g} {name}(s). Lower resources.{kind} in the grid (configs/paper-cpu.yaml "
                    f"runs without GPUs) or join a cluster that has them with --address."
                )


def shutdown_ray() -> None:
    """Stop the Ray instance this run started, quietly (its workers' exit is not news)."""
    import ray

    ray.shutdown()


def cluster_slots() -> int:
    """CPUs in the cluster now: how many 1-CPU trials can run at once."""
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))
