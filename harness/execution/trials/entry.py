"""The functions a backend runs per trial of the training and evaluation phases (`run_train`, `run_eval`), and how
evaluations are grouped into trials (`batches`).

They live apart from `harness.execution.run` because Ray Tune pickles a function by reference: a worker imports the
function's module before it can start, and the driver's imports (pandas, the leaderboard, every task) would add
seconds to every trial actor of a training phase.
"""

from __future__ import annotations

from harness.execution.trials.evaluate import eval_trial
from harness.execution.trials.train import train_trial
from harness.execution.trials.worker import FAILED, RetryTrial, report_trial


def run_train(config: dict) -> None:
    """A batch of trainings (one layer's models, in order); retried as a whole when one asks for it (the models
    already trained are found in the store and skipped)."""
    _run_batch(config["trial"]["batch"], train_trial, lambda one: one["spec"]["method"], "training")


def run_eval(config: dict) -> None:
    """A batch of evaluations; each writes its own record, one failing never stops the others."""
    _run_batch(
        config["trial"]["batch"], eval_trial, lambda one: one["job"]["trial_id"], "evaluation"
    )


def _run_batch(batch: list[dict], run_one, name, kind: str) -> None:
    FAILED.clear()
    retry = []
    for one in batch:
        try:
            if run_one(one):  # an evaluation that asks for a retry
                retry.append(name(one))
        except RetryTrial:  # a training that asks for one
            retry.append(name(one))
    if retry:  # after the whole batch
        raise RetryTrial(f"{kind}(s) {', '.join(retry)} failed; retried (grid max_failures)")
    report_trial()


def trial_name(config: dict) -> str:
    """What a trial works on, for the progress view: its first model or evaluation (+ how many more)."""
    batch = config.get("batch") or [config]
    first = batch[0]
    what = (
        f"{first['spec']['method']} seed {first['spec']['seed']}"
        if "spec" in first
        else first.get("job", {}).get("trial_id", "trial")
    )
    return what + (f" (+{len(batch) - 1})" if len(batch) > 1 else "")


def batches(configs: list[dict], slots: int, per_slot: int = 4, max_batch: int = 8) -> list[dict]:
    """Trainings (of one layer) or evaluations grouped into trials of up to `max_batch` (same resources, in order),
    about `per_slot` trials per slot when there are enough.

    One Tune trial per training or evaluation cost more than the work on small grids: Tune starts an actor for the
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
