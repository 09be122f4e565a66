"""Seeds derived from the run's seed, so every random stream is reproducible and resumable.

A run's randomness is a function of (seed, stream, update number): each round's environment
reset, each round's action sampling and the evaluation episodes; the initial weights come
from the seed itself. The checkpoint's counters are therefore the whole random state.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

TRAIN_STREAM, EVAL_STREAM, ACTION_STREAM, PREDICT_STREAM = 0, 1, 2, 3


def derived_seed(seed: int, stream: int, index: int, *more: int) -> int:
    """An independent 31-bit seed for round `index` of a random stream (train or eval), and
    for a part of it (`more`: a Ray worker's index)."""
    return int(np.random.SeedSequence([seed, stream, index, *more]).generate_state(1)[0] >> 1)


@contextmanager
def initialization(seed: int) -> Iterator[None]:
    """Seed weight initialization for the block, then give the process its random state back.

    Keras initializers without a seed draw one from Python's `random` module (and user code
    may use numpy's global generator); both are seeded here and restored afterwards, so a
    library call leaves its user's random streams where they were.
    """
    python_state, numpy_state = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed)
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
