"""The functions a backend runs per trial of the training and evaluation phases (`run_train`, `run_eval`), and how
evaluations are grouped into trials (`eval_batches`).

They live apart from `harness.execution.run` because Ray Tune pickles a function by reference: a worker imports the
function's module before it can start, and the driver's imports (pandas, the leaderboard, every task) would add
seconds to every trial actor of a training phase.
"""

from __future__ import annotations

from harness.execution.trials.evaluate import eval_trial
from harness.execution.trials.train import train_trial
from harness.execution.trials.worker import RetryTrial


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


def eval_batches(
    configs: list[dict], slots: int, per_slot: int = 4, max_batch: int = 8
) -> list[dict]:
    """Evaluations grouped into Tune trials of up to `max_batch` (same resources), about `per_slot` trials per
    slot when there are enough.

    One Tune trial per evaluation cost more than the evaluations on small grids: Tune starts an actor for the
    next pending trial (~4 s: a worker importing torch), a finished trial's actor takes that trial first
    (`reuse_actors`), and the new actor is stopped unused. On the 2-core demo 17 actors were started this
    way and 83 of 86 one-second evaluations ran one after another in a single actor. A batch keeps an actor
    busy long enough for the second one to start. Each evaluation still has its own record and lock.
    """
    groups: dict[tuple, list[dict]] = {}
    for config in configs:
        groups.setdefault((config["cpus"], config["gpus"]), []).append(config)
    size = max(1, min(max_batch, -(-len(configs) // (slots * per_slot))))
    return [
        {"batch": group[i : i + size], "cpus": cpus, "gpus": gpus}
        for (cpus, gpus), group in groups.items()
        for i in range(0, len(group), size)
    ]
