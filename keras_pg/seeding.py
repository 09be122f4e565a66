"""Seeds derived from the run's seed, so every random stream is reproducible and resumable.

A run's randomness is a function of (seed, stream, update number): each round's environment
reset, each round's action sampling and the evaluation episodes. The checkpoint's counters
are therefore the whole random state.
"""

from __future__ import annotations

import numpy as np

TRAIN_STREAM, EVAL_STREAM, ACTION_STREAM = 0, 1, 2


def derived_seed(seed: int, stream: int, index: int) -> int:
    """An independent 31-bit seed for round `index` of a random stream (train or eval)."""
    return int(np.random.SeedSequence([seed, stream, index]).generate_state(1)[0] >> 1)
