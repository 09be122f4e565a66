"""The gymnasium backend: `num_envs` envs behind gymnasium's vector API, stepped in this
process, with actions from an actor (numpy or TensorFlow, see `keras_pg.policy.actors`)."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import gymnasium as gym
import keras
import numpy as np

from keras_pg.algorithm.batch import Batch
from keras_pg.algorithm.learner import Learner
from keras_pg.backends import Round, RoundInterrupted
from keras_pg.backends.rollout import collect_episodes
from keras_pg.config import Config, KerasPGWarning
from keras_pg.envs.source import EnvSource
from keras_pg.observations import Obs
from keras_pg.policy import Head, make_actor, observation_dtypes
from keras_pg.policy.actors import ActFn
from keras_pg.seeding import ACTION_STREAM, TRAIN_STREAM, derived_seed


class NumEnvsWarning(KerasPGWarning):
    """More envs than a round can use; the extra ones are stepped for nothing."""


class EpisodeCollector:
    """Rounds of complete episodes (or one worker's share of a round) from a vector env,
    actions sampled by the actor `config.actor` picks with seeds derived from (seed, round,
    `part`): the same round gives the same episodes wherever and whenever it is collected.
    `masked`: the env's infos carry invalid-action masks (`keras_pg.envs.masks`)."""

    def __init__(self, env: gym.vector.VectorEnv, model: keras.Model, head: Head,
                 config: Config, part: tuple[int, ...] = (), masked: bool = False) -> None:
        self.env, self.head, self.config, self.part = env, head, config, part
        self.masked = masked
        self.actor = make_actor(model, head, config.actor, masked=masked)
        self.obs_dtype = observation_dtypes(model)

    def collect(self, round_index: int, episodes: int, should_stop: Callable[[], bool],
                max_steps: int | None = None) -> Batch:
        seed = derived_seed(self.config.seed, TRAIN_STREAM, round_index, *self.part)
        action_seed = derived_seed(self.config.seed, ACTION_STREAM, round_index, *self.part)
        with self.actor.round(action_seed) as policy:
            return collect_episodes(
                self.env, _stopping(policy, should_stop), episodes, self.config.gamma,
                seed=seed, to_env=self.head.to_env, obs_dtype=self.obs_dtype,
                max_steps=max_steps, masked=self.masked, env_name=self.config.env_id)


def _stopping(policy: ActFn, should_stop: Callable[[], bool]) -> ActFn:
    """`policy`, raising RoundInterrupted at the first step after `should_stop()` turns true."""

    def act(obs: Obs, starts: np.ndarray, masks: np.ndarray | None) -> np.ndarray:
        if should_stop():
            raise RoundInterrupted
        return policy(obs, starts, masks)

    return act


class VectorBackend:
    """Rounds of complete episodes from a gymnasium vector env in this process (`sync`), or
    one subprocess per env (`async`); the learner updates."""

    def __init__(self, config: Config, source: EnvSource, learner: Learner) -> None:
        self.config = config
        if config.num_envs > config.episodes_per_update:
            warnings.warn(
                f"num_envs {config.num_envs:,} is more than a round needs: a round plays "
                f"episodes_per_update {config.episodes_per_update:,} episodes, so "
                f"{config.num_envs - config.episodes_per_update:,} envs would idle (use "
                f"{config.episodes_per_update:,} or fewer)", NumEnvsWarning, stacklevel=2)
        self.env = source.make_vector(config.num_envs, config.vector_mode)
        self.collector = EpisodeCollector(self.env, learner.model, learner.head, config,
                                          masked=source.mask_source is not None)
        self.actor = self.collector.actor.description

    def collect(self, round_index: int, should_stop: Callable[[], bool],
                max_steps: int | None = None) -> Round:
        batch = self.collector.collect(round_index, self.config.episodes_per_update,
                                       should_stop, max_steps)
        return Round(batch.episode_returns, batch.episode_lengths, batch, None, batch.obs)

    def close(self) -> None:
        self.env.close()
