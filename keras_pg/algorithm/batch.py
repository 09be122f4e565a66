"""A batch of complete episodes: what a rollout produces and an update consumes."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from keras_pg import observations
from keras_pg.observations import Obs


class Batch(NamedTuple):
    """The transitions of K complete episodes, flattened, in time order within each env."""

    obs: Obs
    """[M, *obs_shape] (float32, or the dtype asked for), the observation each action was
    taken in; {part: [M, ...]} for a Dict or Tuple observation."""
    actions: np.ndarray
    """int32 [M] (Discrete) or float32 [M, d] (Box, unclipped), the sampled actions."""
    rewards: np.ndarray
    """float32 [M], the reward the env returned for each action."""
    returns: np.ndarray
    """float32 [M], the discounted reward-to-go G_t of each action (not normalized)."""
    episode_returns: np.ndarray
    """float64 [K], undiscounted return of each episode, in the order they were started."""
    episode_lengths: np.ndarray
    """int64 [K], steps of each episode, in the order they were started."""
    episode: np.ndarray
    """int32 [M], the index in [0, K) of the episode each transition belongs to."""
    final_obs: Obs
    """[K, *obs_shape] (per part), the last observation of each episode a time limit truncated (the
    state it was cut off in); zeros for episodes that terminated."""
    bootstrap_discount: np.ndarray
    """float32 [M], gamma^(T - t) for a transition t of an episode truncated after step
    T - 1, else 0: G_t + bootstrap_discount * V(final_obs[episode]) continues the return
    past the cut (see `returns.truncation_discounts`)."""
    action_masks: np.ndarray | None = None
    """bool [M, P], which actions were legal where each action was taken (the env's
    invalid-action masks, `keras_pg.envs.masks`); None: all were."""


def concatenate(batches: list[Batch]) -> Batch:
    """One batch of the episodes of `batches`, in order (their `episode` indices shifted)."""
    offsets = np.cumsum([0] + [len(b.episode_returns) for b in batches[:-1]])
    shifted = [b._replace(episode=b.episode + offset)
               for b, offset in zip(batches, offsets, strict=True)]
    fields: list[Any] = [None if parts[0] is None else observations.concatenate(list(parts))
                         for parts in zip(*shifted, strict=True)]
    return Batch(*fields)


def episode_steps(episode: np.ndarray) -> np.ndarray:
    """int32 [M]: the index t of each transition within its episode (0 for its first), for
    `episode` int [M] of transitions in time order within each episode."""
    order = np.argsort(episode, kind="stable")
    starts = np.concatenate([[0], np.cumsum(np.bincount(episode))[:-1]])
    steps = np.empty(len(episode), dtype=np.int32)
    steps[order] = np.arange(len(episode)) - starts[episode[order]]
    return steps
