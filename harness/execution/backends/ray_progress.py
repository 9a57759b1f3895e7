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
    """What a trial works on: a model key, the first evaluation of a batch (+ how many more), or Tune's id."""
    config = (trial.config or {}).get("trial") or {}
    if "spec" in config:
        return f"{config['spec']['method']} seed {config['spec']['seed']}"
    batch = config.get("batch") or []
    if batch:
        return batch[0]["job"]["trial_id"] + (f" (+{len(batch) - 1})" if len(batch) > 1 else "")
    return str(trial.trial_id)


def units(config: dict) -> int:
    """How many trainings or evaluations one Tune trial does (an evaluation trial holds a batch of them)."""
    batch = ((config or {}).get("trial") or {}).get("batch")
    return len(batch) if batch else 1
