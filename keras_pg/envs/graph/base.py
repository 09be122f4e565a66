"""What the TensorFlow environments share: a state of float64 physics and a step counter."""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf


class GraphEnvState(NamedTuple):
    physics: tf.Tensor
    """float64 [B, k]: the environment's own state variables, as gymnasium keeps them."""
    steps: tf.Tensor
    """int32 [B], steps since the reset (for the time limit)."""


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
