"""Progress for long commands: a live bar on a terminal, plain numbered lines in a log."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress


class Progress:
    """`step(label, index, total)` before each long step (total 0: not known yet); `echo(line)` for results.

    On a terminal the steps drive a rich bar that stays under the printed lines; elsewhere (CI, cron,
    a pipe) each step is one flushed line, so a log shows where the time went.
    """

    def __init__(self, console: Console | None = None):
        self.console = console or Console(file=sys.stdout)
        self.live = self.console.is_terminal
        self._bar: RichProgress | None = None
        self._task: TaskID | None = None
        self._step_started: float | None = None

    def __enter__(self) -> Progress:
        if self.live:
            self._bar = RichProgress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("starting", total=None)
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()

    def echo(self, line: str) -> None:
        if self.live:
            self.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            print(line, flush=True)

    def step(self, label: str, index: int, total: int) -> None:
        now = time.monotonic()
        if self._bar is not None:
            assert self._task is not None
            self._bar.update(self._task, description=label, completed=index - 1, total=total or None)
        else:
            took = f" (previous step {now - self._step_started:.0f} s)" if self._step_started is not None else ""
            print(f"[{index}/{total or '?'}] {label} …{took}", flush=True)
        self._step_started = now
