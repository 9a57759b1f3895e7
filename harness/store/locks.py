"""One holder at a time per model or evaluation, across processes and nodes sharing the results folder.

`exclusive(path, what)` holds a `filelock.SoftFileLease` on `path`: a marker file created exclusively
(O_EXCL, which NFS and Lustre honour without lock daemons) that names its holder (host, pid, token). The
holder's heartbeat thread refreshes the marker every `heartbeat_s` seconds. A waiter takes the lock over
when the holder's process is gone (same host: checked at once) or when the marker has not changed for
`lease_s` seconds on the waiter's own clock (a node that died or lost the storage; no clock agreement
between nodes is needed). Every contender must use the same lease, so the driver resolves it once
(`lock_settings()`, from LAEBENCH_LOCK_LEASE_S, default 120 s: more than NFS's 60 s attribute cache) and
passes it to its trials. Marker files are created with the user's umask and removed on release.
`clear_abandoned(paths)` removes the markers of holders that died inside their block (an interrupted run's trials).
"""

from __future__ import annotations

import math
import os
import time
from contextlib import contextmanager
from pathlib import Path

from filelock import SoftFileLease, Timeout

DEFAULT_LEASE_S = 120.0


def lock_settings(env: dict | None = None) -> dict:
    """{"lease_s", "heartbeat_s"} from LAEBENCH_LOCK_LEASE_S; a bad value raises ValueError (CLI: exit 2)."""
    env = os.environ if env is None else env
    text = env.get("LAEBENCH_LOCK_LEASE_S", "")
    try:
        lease = float(text) if text.strip() else DEFAULT_LEASE_S
    except ValueError:
        lease = math.nan
    if not (math.isfinite(lease) and lease >= 1):
        raise ValueError(
            f"LAEBENCH_LOCK_LEASE_S must be a number of seconds >= 1 (default {DEFAULT_LEASE_S:g}). "
            f"Got {text!r}."
        )
    return {"lease_s": lease, "heartbeat_s": lease / 12}


def holder(lock: SoftFileLease) -> str:
    owner = lock.owner
    return f"pid {owner.pid} on {owner.hostname}" if owner is not None else "another process"


@contextmanager
def exclusive(path: str | os.PathLike, what: str, settings: dict | None = None, log=None):
    """Hold the lock at `path` for the block; waits (saying so once) while another process holds it."""
    settings = settings or lock_settings()
    log = log or (lambda line: print(line, flush=True))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = SoftFileLease(
        str(path),
        lease_duration=settings["lease_s"],
        heartbeat_interval=settings["heartbeat_s"],
        poll_interval=0.2,
    )
    try:
        lock.acquire(timeout=0)
    except Timeout:
        started = time.monotonic()
        log(
            f"[lock] {what}: held by {holder(lock)}; waiting for it (taken over if its heartbeat stops for "
            f"{settings['lease_s']:g}s)"
        )
        lock.acquire()
        log(f"[lock] {what}: acquired after {time.monotonic() - started:.1f}s")
    try:
        yield lock
    finally:
        lost = lock.compromise
        lock.release()
        if lost is not None:
            log(
                f"[lock] warning: {what}: the lock was taken over while held ({lost.reason}); another process may "
                f"have done the same work"
            )


def clear_abandoned(paths, settings: dict | None = None, wait_s: float = 20.0) -> list[Path]:
    """Remove the markers among `paths` whose holder process is gone, waiting up to `wait_s` for holders that are
    still exiting; return the markers left (held by a live process: another run's, or a node's lease).

    An interrupted run needs it: Tune ends a stopped trial's process, and one killed before its `exclusive` block
    closed leaves its marker behind. Such a marker is harmless (the next contender takes it over at once), but the
    run promises that it stops with every lock released. Breaking is the library's own stale-holder rule: a
    marker is taken and released only when `acquire` would take it over."""
    settings = settings or lock_settings()
    left = [Path(p) for p in paths if Path(p).exists()]
    deadline = time.monotonic() + wait_s
    while left:
        for path in list(left):
            lock = SoftFileLease(
                str(path),
                lease_duration=settings["lease_s"],
                heartbeat_interval=settings["heartbeat_s"],
            )
            try:
                lock.acquire(timeout=0)
            except Timeout:
                continue
            lock.release()
            left.remove(path)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    return left
