"""Backends: the ways of collecting a round of complete episodes with the current policy.

The trainer depends on this seam only:

    backend = make_backend(config, env_source, learner)
    round = backend.collect(round_index, should_stop, max_steps)      # a Round
    backend.close()

A round is `episodes_per_update` complete, on-policy episodes; its randomness (resets and
action sampling) derives from (config.seed, round_index) alone, so a run is reproducible and
a resumed run continues exactly. A backend returns the round's transitions for the learner
(`Round.batch`), or, when its rollout and update are one compiled function, the update it
already made (`Round.update`). A new backend is a new module, named in config.BACKENDS.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import NamedTuple, Protocol

import numpy as np

from keras_pg.algorithm.batch import Batch
from keras_pg.algorithm.learner import Learner, UpdateResult
from keras_pg.config import BACKENDS, Config
from keras_pg.envs.source import EnvSource
from keras_pg.observations import Obs


class RoundInterrupted(Exception):
    """`should_stop()` turned true during a round; the round is dropped."""


class Round(NamedTuple):
    """One round of complete episodes."""

    episode_returns: np.ndarray
    """float64 [K], the undiscounted return of each episode, in the order they started."""
    episode_lengths: np.ndarray
    """int64 [K], steps of each episode."""
    batch: Batch | None
    """The transitions, for the learner; None when the backend has updated already."""
    update: UpdateResult | None
    """The update a backend that fuses rollout and update made (else None)."""
    observations: Obs
    """[n, *obs_shape] (per part), the round's observations (all, or a sample of at least
    1,000): what export verifies on and TensorBoard's action histograms are drawn from."""


class Backend(Protocol):
    actor: str
    """How its rollouts sample actions, for summary.json: "numpy", "tensorflow (...)", ..."""

    def collect(self, round_index: int, should_stop: Callable[[], bool],
                max_steps: int | None = None) -> Round:
        """Collect round `round_index`; raise RoundInterrupted when `should_stop()`. Once the
        round's episodes have taken `max_steps` steps, start no further episode (those in
        flight finish), so a step budget overshoots by the episodes in flight only."""

    def close(self) -> None:
        """Release the envs (and whatever else the backend holds)."""


def make_backend(config: Config, source: EnvSource, learner: Learner) -> Backend:
    """The backend named by `config.backend`, imported on first use."""
    module, _, name = BACKENDS[config.backend].partition(":")
    return getattr(importlib.import_module(module), name)(config, source, learner)
