"""Ctrl-C (SIGINT) and SIGTERM during a run: stop scheduling, let Tune stop the trials in flight, keep what finished.

`Stop` is a context manager around a run. The first signal sets `stop.signal`; if a Tune experiment is running
(`fit(tuner, stop)`), Tune is asked to end it gracefully (its own SIGUSR1 handler: running trials are stopped,
none is started), and the runner starts no further phase, records no interrupted trial as failed, writes the
partial leaderboard and returns; the command line then prints `interrupted: ...; rerun with --resume` and exits
128 + the signal (130 for Ctrl-C, 143 for SIGTERM). A second signal raises KeyboardInterrupt at once. Under the
local backend a trial runs in this process: while one runs (`interrupts_now`), the first signal also raises
KeyboardInterrupt in it, so that it stops at once (a training keeps its last finished epoch). Tune's own
SIGINT handler is switched off (`TUNE_DISABLE_SIGINT_HANDLER`) so that the first Ctrl-C reaches this one; Ray's
SIGTERM handlers (set while `ray.init` runs) are replaced by this one again and Tune's own advice about the stop
("Resume experiment with: Tuner.restore(...)") is filtered out, both in `harness.execution.backends.ray_cluster`.
"""

from __future__ import annotations

import os
import signal
import threading


class Stop:
    def __init__(self, log=print):
        self.signal: int | None = None
        self.in_tune = False
        self.interrupts_now = False  # a trial runs in this process (local backend): interrupt it
        self.log = log
        self._saved: dict[int, object] = {}

    def __enter__(self) -> Stop:
        os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._saved[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signum
        self.log(
            f"[laebench] {signal.Signals(signum).name}: stopping; finished trainings and evaluations are kept "
            f"(send it again to stop at once)"
        )
        if self.in_tune and hasattr(signal, "SIGUSR1"):
            os.kill(
                os.getpid(), signal.SIGUSR1
            )  # Tune's graceful stop: end the experiment, stop its trials
        if self.interrupts_now:
            raise KeyboardInterrupt

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signal) if self.signal else 0


def fit(tuner, stop: Stop | None):
    """`tuner.fit()`, marked as a Tune experiment in flight for `stop`; skipped when a stop was asked for."""
    if stop is not None and stop.signal:
        return None
    if stop is not None:
        stop.in_tune = True
    try:
        return tuner.fit()
    finally:
        if stop is not None:
            stop.in_tune = False
