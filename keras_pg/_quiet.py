"""Silencing what TensorFlow's native code prints to stderr while it is imported."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Route file descriptor 2 to a temporary file for the duration of the block.

    TensorFlow's C++ runtime logs through absl before TF_CPP_MIN_LOG_LEVEL applies
    ("All log messages before absl::InitializeLog() ...", CUDA and CPU-feature notices).
    If the block raises, what was captured is written back so nothing is lost.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        failed = True
        try:
            yield
            failed = False
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if failed:
                captured.seek(0)
                os.write(2, captured.read())
