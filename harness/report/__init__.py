"""What a results folder says: leaderboards, paired tests and verdicts, the reproduction document and page.

- `leaderboard` (with `leaderboard_md`, `leaderboard_tables`, `search_table`): raw.csv, leaderboard.csv/.md from
  the trial records; `freshness` whether they are current; `summary` the end of a run (headline rows, closing
  lines) for the terminal to print.
- `evidence` (the records and per-input tables a claim reads), `paired` and `delong` (the tests), `verdicts`,
  `claims` (the registry a paper fills; `laebench_paper` fills it), `parts_table`.
- `document`, `markdown`, `html`: the reproduction report; `numbers` and `metric_names` for how values are shown.

May import: laebench, methods, tasks (a metric's direction), harness.store (records, locks). Never imports
harness.execution (a report reads records, whatever ran them) or laebench_paper (tests/test_architecture.py).
"""
