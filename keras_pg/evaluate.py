"""Greedy evaluation of a policy in its gymnasium environment."""

from __future__ import annotations

from typing import NamedTuple

import keras
import numpy as np

from keras_pg.backends.rollout import collect_episodes
from keras_pg.envs.source import EnvSource
from keras_pg.policy import make_actor, make_head, observation_dtypes


class Evaluation(NamedTuple):
    """Undiscounted returns of greedy episodes."""

    mean_return: float
    std_return: float
    episodes: int
    returns: np.ndarray
    """float64 [episodes]."""


def evaluate_policy(model: keras.Model, source: EnvSource, episodes: int, seed: int,
                    num_envs: int = 32, actor: str = "auto") -> Evaluation:
    """Run `episodes` complete episodes with the greedy action (argmax, or the clipped mean).

    The episodes are assigned to `num_envs` parallel envs up front, so short episodes are not
    over-represented; `seed` seeds the first reset (use one the training never saw). `actor`
    chooses how the policy runs (see `keras_pg.policy.actors`). An env with invalid-action
    masks (`source.mask_source`) is played with them, as in training.
    """
    env = source.make_vector(min(num_envs, episodes))
    masked = source.mask_source is not None
    try:
        head = make_head(env.single_action_space)
        with make_actor(model, head, actor, greedy=True, masked=masked).round(seed) as act:
            batch = collect_episodes(env, act, episodes, gamma=1.0, seed=seed,
                                     to_env=head.to_env, obs_dtype=observation_dtypes(model),
                                     masked=masked, env_name=source.name)
    finally:
        env.close()
    returns = batch.episode_returns
    return Evaluation(float(returns.mean()), float(returns.std()), len(returns), returns)
