"""What a run prints: a progress view per phase, one line per failure with its log, a summary at the end.

On a terminal (stdout is a TTY) each phase (a search, a training layer, the evaluations) is a live `rich`
progress bar: done / total, failed, running, elapsed, ETA and the trial running longest. Elsewhere (CI, a log
file) a phase is two plain lines, its start and its end, with no carriage returns. Worker output (epoch lines,
lock waits, library warnings, tracebacks) goes to one log file per trial (`trial_log`), not to the terminal;
`--verbose` streams it as well. The summary at the end is `harness.report.summary`'s; this prints it (`table`).
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path


class Console:
    def __init__(self, live: bool | None = None, verbose: bool = False, stream=None):
        self.stream = stream or sys.stdout
        self.live = (
            (hasattr(self.stream, "isatty") and self.stream.isatty()) if live is None else live
        )
        self.verbose = verbose
        self.phases: list[tuple[str, float]] = []  # (phase, seconds)

    def line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def table(self, header: tuple[str, ...], rows: list[tuple[str, ...]], title: str) -> None:
        """A `rich` table on a terminal; aligned plain lines elsewhere (the header, then a line per row)."""
        if self.live:
            from rich.console import Console as RichConsole
            from rich.table import Table

            table = Table(*header, title=title)
            for row in rows:
                table.add_row(*row)
            RichConsole(file=self.stream).print(table)
            return
        widths = [
            max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
            for i, h in enumerate(header)
        ]
        for row in [header, *rows]:
            self.line("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())

    def phase(self, name: str, total: int) -> Phase:
        return Phase(self, name, total)


class Phase:
    """One phase's progress; fed by `harness.execution.backends.ray_progress.PhaseProgress` (a Tune callback) or the local backend."""

    def __init__(self, console: Console, name: str, total: int):
        self.console, self.name, self.total = console, name, total
        self.done = self.failed = 0
        self.running: dict[str, float] = {}  # trial -> start time
        self.started = time.perf_counter()
        self._bar = None

    def __enter__(self) -> Phase:
        if self.console.live:
            from rich.console import Console as RichConsole
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[state]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=RichConsole(file=self.console.stream),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.name, total=self.total, state="")
        else:
            self.console.line(f"[laebench] {self.name}: {self.total} to run")
        return self

    def start(self, trial: str) -> None:
        self.running[trial] = time.perf_counter()
        self._refresh()

    def finish(self, trial: str, ok: bool, count: int = 1, failed: int | None = None) -> None:
        """`count` trainings or evaluations ended; `failed` of them failed (default: all when not `ok`)."""
        self.running.pop(trial, None)
        self.done += count
        self.failed += (0 if ok else count) if failed is None else min(failed, count)
        self._refresh()

    def _refresh(self) -> None:
        if self._bar is None:
            return
        state = f"{self.failed} failed, " if self.failed else ""
        state += f"{len(self.running)} running"
        if self.running:
            slowest = min(self.running, key=self.running.get)
            state += f", longest {slowest} ({time.perf_counter() - self.running[slowest]:.0f}s)"
        self._bar.update(self._task, completed=self.done, state=state)

    def __exit__(self, *exc) -> None:
        elapsed = time.perf_counter() - self.started
        self.console.phases.append((self.name, elapsed))
        if self._bar is not None:
            self._refresh()
            self._bar.stop()
        else:
            failed = f", {self.failed} failed" if self.failed else ""
            self.console.line(f"[laebench] {self.name}: {self.done} done{failed} in {elapsed:.0f}s")


@contextlib.contextmanager
def trial_log(path: Path, verbose: bool = False):
    """Send this process's output (prints, warnings, tracebacks) to `path` for the block; with `verbose` to the
    original streams too (which Ray forwards to the driver)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", buffering=1) as log:
        out = _Tee(log, sys.stdout) if verbose else log
        err = _Tee(log, sys.stderr) if verbose else log
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield path


class _Tee:
    def __init__(self, *streams):
        self.streams = streams

    def write(self, text: str) -> int:
        for s in self.streams:
            s.write(text)
        return len(text)

    def flush(self) -> None:
        for s in self.streams:
            s.flush()


def log_path(run_dir: Path, name: str) -> Path:
    """Where a trial's log goes: `<run_dir>/logs/<name with / as __>.log`."""
    return Path(run_dir) / "logs" / (name.replace("/", "__") + ".log")
