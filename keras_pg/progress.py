"""Training progress on the terminal, as a Keras callback: a live rich bar on a TTY, a plain
line every few seconds otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any

import keras
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


class ProgressBar(keras.callbacks.Callback):
    """Shows env steps against the budget (`params["max_steps"]`), the episodes, the
    mean return of the solve window and the throughput after every update."""

    def __init__(self, interval_s: float = 2.0, live: bool | None = None) -> None:
        super().__init__()
        self.interval_s = interval_s
        self.live = sys.stdout.isatty() if live is None else live
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._last_print = 0.0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self.live:
            self._progress = Progress(
                TextColumn("[bold]train"), BarColumn(bar_width=24),
                TextColumn("{task.completed:,.0f}/{task.total:,.0f} steps"),
                TextColumn("{task.fields[text]}"), TimeElapsedColumn(),
                console=Console(), transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task("train", total=self.params["max_steps"],
                                                 text="")

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        assert logs is not None  # training passes every update's logs (callbacks.LOG_KEYS)
        text = (f"episodes {logs['episodes']:,}  mean return {logs['mean_return']:7.1f}  "
                f"{logs['steps_per_s']:,.0f} steps/s")
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=logs["env_steps"], text=text)
        elif time.monotonic() - self._last_print >= self.interval_s:
            self._last_print = time.monotonic()
            print(f"steps {logs['env_steps']:,}  {text}", flush=True)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
