"""One writer per run directory: an OS-level lock on RUN_DIR/.lock.

The lock is `flock(2)` on a file that holds the owner's PID. The kernel drops it when the
owning process exits in any way (kill -9 included), so a crash never leaves a stale lock;
the file itself stays, harmlessly. A second trainer, resume or export on a locked run
directory gets a one-line RunDirError naming the process that holds it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from keras_pg.run.run_dir import LOCK, RunDirError


class RunDirLock:
    """The lock of `run_dir`; `acquire()` fails at once (no waiting) when another process
    (or another RunDirLock) holds it. As a context manager it is re-entrant: nested blocks
    of the same object release it when the outermost one ends."""

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.path = Path(run_dir) / LOCK
        self._fd: int | None = None
        self._depth = 0

    def acquire(self) -> RunDirLock:
        if self._fd is not None:
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunDirError(
                f"{self.path.parent} is in use by process {holder} (a trainer or an export); "
                f"wait for it to finish, or choose another run directory") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> RunDirLock:
        self.acquire()
        self._depth += 1
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.release()

    def __del__(self) -> None:
        self.release()
