"""Running a plan: what happens to a run, in order (`run.run_grid`).

1. `search/`: choose the configuration of every searched method (its choices complete the plan).
2. The plan (`harness.grid.plan.make_plan`), made once and passed down; `stale` says which models changed code.
3. Training layers: every missing model once, dependency layer by layer.
4. Evaluations: every missing one.
5. `outcome`: what the run did (trained, cached, failed, done by another run; what an interrupt left).

Where trials execute is a backend's business (`backends/`: Ray Tune, or this process); what a trial does in its
worker is `trials/`'s (`train`, `evaluate`, the shared `worker` setup, the `entry` functions a backend calls). What
the user sees is `terminal`; Ctrl-C and SIGTERM are `interrupts`; every trial gets one frozen `context.RunContext`.
`dry_run` says what a run would do. Nothing here is imported at package import (workers import `trials.entry`
and should import nothing else).

May import: harness.grid (the plan), harness.store (models, records, locks, searches), harness.datasets, methods,
tasks, laebench. Imported by: harness.cli only. Never imports harness.report or laebench_paper.
"""
