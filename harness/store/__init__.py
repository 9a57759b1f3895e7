"""The results folder on disk: every format has one owner here, and nothing else reads or writes it directly.

- `models`: the model store (`<results>/models/<key>/`: checkpoint, manifest, failure, partial state), verified on
  every use; `layout` its file names and entry states, `verify` the check of one entry, `locks` the per-model and
  per-record leases, `snapshots` and `derived` what is kept next to a model.
- `records`: one grid's folder (`<results>/<grid>/`): trial records, the plan's file, the artifacts' paths;
  `searches` the search summaries; `provenance` what a record says about where it ran.
- `progress`: what a plan still needs, asked once per run (the driver, `run --dry-run`).
- `survey` and `orphans`: `verify` and `gc` over a whole folder; `pack`: a report's folder; `files`: atomic writes
  and checksums.

May import: laebench, methods (a model's spec and class). Never imports harness.grid, harness.execution or
harness.report (tests/test_architecture.py): a plan is read by its fields, whatever made it.
"""
