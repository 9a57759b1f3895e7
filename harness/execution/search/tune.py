"""Ray Tune pieces of a search: search spaces, the search algorithm (random or Optuna) and the scheduler (FIFO or
ASHA)."""

from __future__ import annotations

from harness.grid.spaces import SearchSettings, is_space


def tune_space(space: dict):
    from ray import tune

    kind, args = next(iter(space.items()))
    return {
        "loguniform": lambda: tune.loguniform(*args),
        "uniform": lambda: tune.uniform(*args),
        "randint": lambda: tune.randint(*args),
        "choice": lambda: tune.choice(args),
        "grid": lambda: tune.grid_search(args),
    }[kind]()


def search_alg(s: SearchSettings, seed: int):
    if s.search_alg == "optuna":
        from ray.tune.search.optuna import OptunaSearch

        return OptunaSearch(metric="selection", mode=s.mode, seed=seed)
    from ray.tune.search import BasicVariantGenerator

    return BasicVariantGenerator(random_state=seed)


def scheduler(s: SearchSettings, train: dict):
    """ASHA stops on the per-epoch validation loss (the only per-epoch signal every method reports); the
    search metric then chooses among the trials that finished."""
    if s.scheduler["name"] != "asha":
        return None
    from ray.tune.schedulers import ASHAScheduler

    max_epochs = train["max_epochs"]
    max_t = max(max_epochs[next(iter(max_epochs))]) if is_space(max_epochs) else max_epochs
    return ASHAScheduler(
        time_attr="training_iteration",
        metric="val_loss",
        mode="min",
        max_t=int(max_t),
        grace_period=min(s.scheduler["grace_period"], int(max_t)),
        reduction_factor=s.scheduler["reduction_factor"],
    )
