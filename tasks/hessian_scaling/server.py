"""A point server for the Fig. 7 measurements: one Python process that imports torch once and forks a fresh child
per point, so a point is measured in a process of its own without paying seconds of imports each time.

`PointServer().run(method, side, options)` sends one request (a JSON line) to the server (`python -m
tasks.hessian_scaling.server`, started on first use, one per client process) and reads its answer. The server is
single-threaded and runs no torch operation itself, so forking it is safe; each child runs
`measure.run_point_guarded` (thread count, address-space cap; the peak-RSS mark reset before the timed calls, so
the peak is the point's own) and writes the row to a pipe. The server kills a
child past its time budget and reports a child killed by the kernel (out of memory) or one that died. Where
`os.fork` is missing, `measure.run_point_in_subprocess` starts a new interpreter per point instead.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the folder holding the `tasks` package


class PointServer:
    def __init__(self):
        self.proc: subprocess.Popen | None = None

    def run(self, method: str, side: int, options: dict) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            env = {
                **os.environ,
                "PYTHONPATH": os.pathsep.join(
                    filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
                ),
                "OMP_NUM_THREADS": "1",  # each point sets its own torch threads (`threads`)
                "MKL_NUM_THREADS": "1",
            }
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tasks.hessian_scaling.server"],
                cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            atexit.register(self.close)
        self.proc.stdin.write(json.dumps({"method": method, "side": side, **options}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the Fig. 7 point server stopped (exit {self.proc.poll()})")
        return json.loads(line)

    def close(self) -> None:
        """End the server: its stdin closes, it returns; killed if it does not within seconds."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        try:
            proc.stdin.close()
            proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        proc.stdout.close()


def _measure_in_child(request: dict) -> dict:
    """Fork one child for the point of `request`, wait for its row within the time budget."""
    from tasks.hessian_scaling.measure import _skipped

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
        return _skipped(method, side, "timeout", f"over the {budget:g} s time budget")
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
        return _skipped(method, side, "out_of_budget", "killed (out of memory)")
    return _skipped(
        method, side, "error", f"the measuring process exited {os.waitstatus_to_exitcode(status)}"
    )


def _child(request: dict, write_fd: int) -> int:
    from tasks.hessian_scaling.measure import _skipped, run_point_guarded

    options = {k: v for k, v in request.items() if k not in ("method", "side")}
    try:
        row = run_point_guarded(request["method"], request["side"], **options)
    except Exception as err:
        row = _skipped(
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
