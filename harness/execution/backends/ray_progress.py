"""A Tune callback that feeds a phase's progress view (`harness.execution.terminal.Phase`) as trials start, finish or
fail, instead of Ray's per-trial log tables. A module of its own: Tune pickles callbacks by reference, and importing
it imports Ray."""

from __future__ import annotations

from ray import tune


class PhaseProgress(tune.Callback):
    """A Tune callback feeding a phase's progress view as trials start, finish or fail, instead of Ray's per-trial
    log tables."""

    def __init__(self, phase):
        self.phase = phase  # harness.execution.terminal.Phase

    def __getstate__(
        self,
    ) -> dict:  # Tune pickles callbacks with its experiment state; the view stays here
        return {**self.__dict__, "phase": None}

    def on_trial_start(self, iteration, trials, trial, **info):
        if self.phase is not None:
            self.phase.start(_name(trial))

    def on_trial_complete(self, iteration, trials, trial, **info):
        if self.phase is not None:
            self.phase.finish(
                _name(trial),
                ok=not (trial.last_result or {}).get("failed"),
                count=units(trial.config),
            )

    def on_trial_error(self, iteration, trials, trial, **info):
        if self.phase is not None:
            self.phase.finish(_name(trial), ok=False, count=units(trial.config))


def _name(trial) -> str:
    """What a trial works on (`trial_name`), or Tune's id."""
    from harness.execution.trials.entry import trial_name

    config = (trial.config or {}).get("trial")
    return trial_name(config) if config else str(trial.trial_id)


def units(config: dict) -> int:
    """How many trainings or evaluations one Tune trial does (an evaluation trial holds a batch of them)."""
    batch = ((config or {}).get("trial") or {}).get("batch")
    return len(batch) if batch else 1
