"""What one trial does in its worker (a Ray actor, or this process under the local backend): `train` one model
(resume, checkpoints by time, the stale-code check, the store), `evaluate` one (experiment, method, seed[, point])
(load the model or its snapshot, run the task, write the record), with `worker`'s shared setup (plugins, device,
data, reporting, logs, retries); `entry` holds the functions a backend calls per trial. Light to import on purpose.

May import: harness.execution.context, harness.grid.plugins, harness.store, harness.datasets, methods, tasks.
"""
