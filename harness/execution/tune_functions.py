"""The functions Ray Tune runs in its workers for the training and evaluation phases.

They live apart from `harness.execution.runner` because Tune pickles a function by reference: a worker imports the
function's module before it can start, and the runner's imports (pandas, the leaderboard, every task) would add
seconds to every trial actor of a training phase.
"""

from __future__ import annotations

from harness.execution.retries import RetryTrial
from harness.execution.training import train_trial
from harness.execution.trials import eval_trial


def run_train(config: dict) -> None:
    train_trial(config["trial"])


def run_eval(config: dict) -> None:
    retry = [one["job"]["trial_id"] for one in config["trial"]["batch"] if eval_trial(one)]
    if (
        retry
    ):  # after the whole batch: each writes its own record, one failing never stops the others
        raise RetryTrial(
            f"evaluation(s) {', '.join(retry)} failed; Tune retries them (grid max_failures)"
        )
