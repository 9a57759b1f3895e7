"""Reading a grid file and planning its run: nothing here runs a trial or writes a result.

- `yaml_loader` (bounded YAML), `schema` (the validated dataclasses), `config` (`load_grid`: one `error:` line per
  bad input, with its key path), `sections`, `values`, `checks` and `spaces` (search spaces) for the parts.
- `plugins`: the folders and modules a grid's plugins come from.
- `plan`: `make_plan`, the models (in dependency layers) and evaluation jobs with their hashes, and its one
  serialised form (`plan.json`).

May import: laebench, methods, tasks, harness.datasets (the dataset names a grid may use). Imports no
harness.store today; never harness.execution or harness.report (tests/test_architecture.py).
"""
