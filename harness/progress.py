"""One console line per finished Tune trial of a phase (training layer, evaluations, a search):
done / total, failed, elapsed and a linear ETA, instead of Ray's per-trial log tables."""
from __future__ import annotations

import time

from ray import tune


class PhaseProgress(tune.Callback):
    def __init__(self, phase: str, log=print, total: int | None = None):
        self.phase, self.log, self.total = phase, log, total
        self.started, self.done, self.failed = time.perf_counter(), 0, 0

    def __getstate__(self) -> dict:  # Tune pickles callbacks with its experiment state; `log` may not pickle
        return {**self.__dict__, "log": None}

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._tick(trials)

    def on_trial_error(self, iteration, trials, trial, **info):
        self.failed += 1
        self._tick(trials)

    def _tick(self, trials) -> None:
        self.done += 1
        total = self.total or len(trials)
        elapsed = time.perf_counter() - self.started
        eta = elapsed / self.done * max(0, total - self.done)
        failed = f", {self.failed} failed" if self.failed else ""
        (self.log or print)(f"[laebench] {self.phase}: {self.done}/{total} trial(s) done{failed}, {elapsed:.0f}s elapsed, "
                 f"ETA {eta:.0f}s")
