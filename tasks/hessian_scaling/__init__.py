"""The `hessian_scaling` task: time and peak memory of the Hessian backends against image size (paper Fig. 7).

task.py holds the registered task (`HessianScaling`, one trial per backend and image side); network.py what a
point measures (the 5-layer conv net, each backend's call, `POINTS`); measure.py the timing and memory of one
point in this process; isolate.py a point in a process of its own under its budgets, forked by server.py (the
point server, torch imported once); figure.py the log-log slopes and the plot. The
curvature backends themselves are in `methods.curvature`; `python -m benchmarks.hessian_scaling` is the command
line over the same measurements.
"""

from .task import HessianScaling

__all__ = ["HessianScaling"]
