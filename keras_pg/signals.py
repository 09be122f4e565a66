"""Ctrl-C and SIGTERM during training: record them, stop at the next safe point."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def stop_on_signals() -> Iterator[list[int]]:
    """Record SIGINT/SIGTERM instead of dying; yields the list the signal numbers go to."""
    received: list[int] = []
    previous = {s: signal.signal(s, lambda num, _frame: received.append(num))
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
