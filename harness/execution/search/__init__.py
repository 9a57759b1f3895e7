"""Choosing a searched method's configuration on validation data before the run trains and evaluates it like any
fixed-parameter model (docs: README "Hyper-parameter search").

A method label whose parameters or training settings hold spaces (`harness.grid.spaces`) is searched once per seed
(`plan`: which searches, what stored ones chose), on Ray Tune (`run`, with `tune`: the spaces, search algorithm and
scheduler in Tune's terms), each trial training one sampled configuration (`trial`). A trial that trains to the end
stores its model in the model store under its normal key; the summary goes to the store (`harness.store.searches`),
shared by every grid like the model store, so a rerun searches and trains nothing.

May import: harness.execution.context / interrupts / terminal / trials, harness.grid, harness.store, methods, tasks.
"""
