"""What the TensorFlow environments share: a state of float64 physics and a step counter,
and the interface (`GraphEnv`) the graph backend steps them through."""

from __future__ import annotations

from typing import NamedTuple, Protocol

import gymnasium as gym
import tensorflow as tf


class GraphEnvState(NamedTuple):
    physics: tf.Tensor
    """float64 [B, k]: the environment's own state variables, as gymnasium keeps them."""
    steps: tf.Tensor
    """int32 [B], steps since the reset (for the time limit)."""


GraphStep = tuple[GraphEnvState, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]
"""(state, obs float32 [B, *obs_shape], reward float32 [B], terminated bool [B],
truncated bool [B]): what `GraphEnv.step` returns."""


class GraphEnv(Protocol):
    """A batched, stateless environment in TensorFlow ops, mirroring gymnasium's `env_id`."""

    max_episode_steps: int
    """The time limit: `step` truncates an episode at this many steps."""

    @property
    def env_id(self) -> str:
        """The gymnasium id this environment mirrors."""

    @property
    def observation_space(self) -> gym.spaces.Box:
        """The observation space of gymnasium's environment."""

    @property
    def action_space(self) -> gym.Space:
        """The action space of gymnasium's environment (Discrete, or a Box of torques)."""

    def reset(self, seed: tf.Tensor, batch: int) -> tuple[GraphEnvState, tf.Tensor]:
        """`batch` fresh episodes from the stateless `seed` (int64 [2]): (state, obs)."""

    def step(self, state: GraphEnvState, action: tf.Tensor) -> GraphStep:
        """One step of every episode of `state` with `action` [B] or [B, d]."""


def uniform_reset(seed: tf.Tensor, low: list[float], high: list[float],
                  batch: int) -> GraphEnvState:
    """Physics uniform in [low, high] per variable (float64 [batch, k]), step counter 0."""
    low64, high64 = tf.constant(low, tf.float64), tf.constant(high, tf.float64)
    unit = tf.random.stateless_uniform([batch, len(low)], seed, dtype=tf.float64)
    return GraphEnvState(low64 + (high64 - low64) * unit, tf.zeros([batch], tf.int32))


def advance(state: GraphEnvState, physics: tf.Tensor,
            max_episode_steps: int) -> tuple[GraphEnvState, tf.Tensor]:
    """The next state and `truncated` (bool [B]): gymnasium's TimeLimit, which truncates at
    the limit whether or not the step also terminated."""
    steps = state.steps + 1
    return GraphEnvState(physics, steps), steps >= max_episode_steps
