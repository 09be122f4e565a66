"""Hot reload: a thread that checks the served files every `interval` seconds and swaps in
a replaced one (ServedModel.reload loads and checks it first).

Polling the file's identity (inode, mtime, size) works on every filesystem, and catches
export's write-to-a-temporary-name-then-rename as well as a copy over the file. Each
uvicorn worker process runs its own watcher. A check that fails, for whatever reason, is
logged in one line and the thread polls on: the last good version keeps serving.
"""

from __future__ import annotations

import logging
import threading

from serve.models import ServedModel
from serve.policy import PolicyLoadError

log = logging.getLogger("serve.reload")


class Watcher:
    """Polls `models` for replaced files from start() to stop()."""

    def __init__(self, models: dict[str, ServedModel], interval: float):
        self.models = models
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures: dict[str, str] = {}  # the last failure logged, by model name

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="serve-reload", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def check(self) -> None:
        """One pass over the models: swap in each replaced file that passes the checks, log
        each refused one and any other failure (the old version keeps serving)."""
        for name, model in self.models.items():
            try:
                version = model.reload()
            except Exception as exc:  # any failure: the thread must live on, or reload stops
                self._report(name, model, exc)
                continue
            self._failures.pop(name, None)
            if version is not None:
                log.info("model %r: now serving version %d (sha256 %s) from %s", name,
                         version.number, version.sha256[:12], version.policy.path)

    def _report(self, name: str, model: ServedModel, exc: Exception) -> None:
        """Log a failed check in one line, once while it repeats check after check (an
        unreadable directory is not logged every interval)."""
        if isinstance(exc, PolicyLoadError | OSError):
            what, reason = "refused the new file", str(exc)
        else:
            what, reason = "could not check for a new file", f"{type(exc).__name__}: {exc}"
        reason = reason.strip().partition("\n")[0]  # one line per record
        message = (f"model {name!r}: {what}, still serving version {model.current.number}: "
                   f"{reason}")
        if self._failures.get(name) != message:
            self._failures[name] = message
            log.error("%s", message)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()
