"""`RunContext`: what every driver and worker of one run needs to know, as one frozen dataclass (as Ray Tune's own
`TuneConfig` / `RunConfig` are), passed with each trial's config instead of a dictionary of loose keys."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RunContext:
    models_dir: str  # the model store (shared by every grid of a results folder)
    run_dir: str = ""  # <results>/<grid>: records, artifacts, logs ("" outside a run: no log files)
    data_root: str | None = None
    plugins: tuple[str, ...] = ()  # the grid's plugin modules, imported in every worker
    plugin_paths: tuple[str, ...] = ()  # where they are looked for
    resume: bool = False  # continue interrupted trainings from their per-epoch checkpoint
    run_id: str = ""  # host:pid:time of the run, in every record and model entry it writes
    lock: dict | None = field(default=None, hash=False)  # lock lease settings (harness.store.locks)
    max_failures: int = 0  # Tune retries of a trial that raised, before it is recorded as failed
    verbose: bool = False  # stream worker output to the terminal too
