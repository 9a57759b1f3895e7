"""Foundations shared by the `methods` and `tasks` packages and used by `harness`: nothing here imports them.

`laebench.registry.Registry` is the one registry class behind `methods.register` and `tasks.register`.
"""
