"""Importing TensorFlow quietly, and leaving the process as it was found."""

from __future__ import annotations

import os
import random
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_tensorflow_import() -> Iterator[None]:
    """Silence what TensorFlow's native code prints while it is first imported.

    TensorFlow's C++ runtime logs through absl before any Python setting applies ("All log
    messages before absl::InitializeLog() ...", CUDA and CPU-feature notices), so file
    descriptor 2 goes to a temporary file for the block, and TF_CPP_MIN_LOG_LEVEL is 3
    unless the user set it. Both are restored afterwards, and so is Python's global random
    state, which importing TensorFlow advances; if the block raises (other than by Ctrl-C),
    what was captured is written back so nothing is lost. Nothing happens when TensorFlow is
    already imported: the user's process made its own choices.
    """
    if "tensorflow" in sys.modules:
        yield
        return
    level, random_state = os.environ.get("TF_CPP_MIN_LOG_LEVEL"), random.getstate()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        replay = True  # what was captured, if the import fails (not if it was interrupted)
        try:
            yield
            replay = False
        except KeyboardInterrupt:
            replay = False
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            random.setstate(random_state)
            if level is None:
                os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
            if replay:
                captured.seek(0)
                os.write(2, captured.read())
