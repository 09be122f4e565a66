"""Training progress on the terminal: a live rich bar, plain periodic lines, or nothing."""

from __future__ import annotations

import sys
import time
from typing import NamedTuple

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn


class Status(NamedTuple):
    """What the progress display shows after each update."""

    episodes: int
    env_steps: int
    mean_return: float
    """Mean return of the last 100 training episodes."""
    steps_per_s: float


class Reporter:
    """Shows Status updates: a rich bar on a TTY, a plain line every `interval_s` otherwise,
    nothing when quiet. Use as a context manager."""

    def __init__(self, max_steps: int, quiet: bool = False, interval_s: float = 2.0,
                 live: bool | None = None):
        self.max_steps = max_steps
        self.quiet = quiet
        self.interval_s = interval_s
        self.live = sys.stdout.isatty() if live is None else live
        self._progress: Progress | None = None
        self._task = None
        self._last_print = 0.0

    def __enter__(self) -> Reporter:
        if self.live and not self.quiet:
            self._progress = Progress(
                TextColumn("[bold]train"), BarColumn(bar_width=24),
                TextColumn("{task.completed:,.0f}/{task.total:,.0f} steps"),
                TextColumn("{task.fields[text]}"), TimeElapsedColumn(),
                console=Console(), transient=False,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("train", total=self.max_steps, text="")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc_info)

    def update(self, status: Status) -> None:
        text = (f"episodes {status.episodes:,}  mean100 {status.mean_return:7.1f}  "
                f"{status.steps_per_s:,.0f} steps/s")
        if self._progress is not None:
            self._progress.update(self._task, completed=status.env_steps, text=text)
        elif not self.quiet and time.monotonic() - self._last_print >= self.interval_s:
            self._last_print = time.monotonic()
            print(f"steps {status.env_steps:,}  {text}", flush=True)

    def message(self, text: str) -> None:
        """A line that is not progress (shown unless quiet)."""
        if not self.quiet:
            print(text, flush=True)
