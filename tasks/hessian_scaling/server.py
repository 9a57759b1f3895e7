"""A point server for the Fig. 7 measurements: one Python process that imports torch once and forks a fresh child
per point, so a point is measured in a process of its own without paying seconds of imports each time.

`python -m tasks.hessian_scaling.server` reads one request per line (a JSON point) and answers each with one JSON
line; its client is `isolate.PointServer` (started on first use, one per client process). The server is
single-threaded and runs no torch operation itself, so forking it is safe; each child runs
`measure.run_point_guarded` (thread count, address-space cap; the peak-RSS mark reset before the timed calls, so
the peak is the point's own) and writes the row to a pipe. The server kills a
child past its time budget and reports a child killed by the kernel (out of memory) or one that died. Where
`os.fork` is missing, `isolate.run_point_in_subprocess` starts a new interpreter per point instead.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys


def _measure_in_child(request: dict) -> dict:
    """Fork one child for the point of `request`, wait for its row within the time budget."""
    from tasks.hessian_scaling.measure import skipped

    method, side, budget = request["method"], request["side"], request["time_budget"]
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: measure, write, leave without running the server's cleanup
        os.close(read_fd)
        os._exit(_child(request, write_fd))
    os.close(write_fd)
    ready, _, _ = select.select([read_fd], [], [], budget)
    data = b""
    if ready:
        while chunk := os.read(read_fd, 1 << 16):
            data += chunk
    os.close(read_fd)
    if not ready:  # over its time budget
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if data:
        return json.loads(data)
    if not ready:
        return skipped(method, side, "timeout", f"over the {budget:g} s time budget")
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
        return skipped(method, side, "out_of_budget", "killed (out of memory)")
    return skipped(
        method, side, "error", f"the measuring process exited {os.waitstatus_to_exitcode(status)}"
    )


def _child(request: dict, write_fd: int) -> int:
    from tasks.hessian_scaling.measure import run_point_guarded, skipped

    options = {k: v for k, v in request.items() if k not in ("method", "side")}
    try:
        row = run_point_guarded(request["method"], request["side"], **options)
    except Exception as err:
        row = skipped(
            request["method"], request["side"], "error", f"{type(err).__name__}: {err}"[:200]
        )
    with os.fdopen(write_fd, "w") as out:
        out.write(json.dumps(row))
    return 0


def serve() -> int:
    """Read point requests (JSON lines) from stdin, answer each with one JSON line, until stdin closes."""
    import torch  # noqa: F401  (imported once, here, for every child)

    import tasks.hessian_scaling.measure  # noqa: F401

    for line in sys.stdin:
        row = _measure_in_child(json.loads(line))
        sys.stdout.write(json.dumps(row) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(serve())
