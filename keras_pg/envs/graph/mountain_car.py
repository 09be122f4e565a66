"""MountainCar-v0 in TensorFlow ops: gymnasium's MountainCarEnv, in float64."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import tensorflow as tf

from keras_pg.envs.graph.base import GraphEnvState, GraphStep, advance, uniform_reset


class MountainCar:
    """Batched MountainCar-v0: reward -1 per step, terminated at position >= 0.5 with
    velocity >= 0, truncated at 200 steps. Physics: position, velocity; actions 0, 1, 2 =
    push left, none, right."""

    env_id = "MountainCar-v0"
    max_episode_steps = 200
    min_position, max_position, max_speed = -1.2, 0.6, 0.07
    goal_position, goal_velocity = 0.5, 0.0
    force, gravity = 0.001, 0.0025

    def __init__(self) -> None:
        low = np.array([self.min_position, -self.max_speed], dtype=np.float32)
        high = np.array([self.max_position, self.max_speed], dtype=np.float32)
        self.observation_space = gym.spaces.Box(low, high, dtype=np.float32)
        self.action_space = gym.spaces.Discrete(3)

    def reset(self, seed: tf.Tensor, batch: int) -> tuple[GraphEnvState, tf.Tensor]:
        """Position uniform in [-0.6, -0.4], velocity 0."""
        state = uniform_reset(seed, [-0.6, 0.0], [-0.4, 0.0], batch)
        return state, tf.cast(state.physics, tf.float32)

    def step(self, state: GraphEnvState, action: tf.Tensor) -> GraphStep:
        """(state, obs float32 [B, 2], reward float32 [B], terminated, truncated bool [B])."""
        position, velocity = tf.unstack(state.physics, axis=1)
        velocity = velocity + (tf.cast(action, tf.float64) - 1.0) * self.force + tf.cos(
            3 * position) * (-self.gravity)
        velocity = tf.clip_by_value(velocity, -self.max_speed, self.max_speed)
        position = tf.clip_by_value(position + velocity, self.min_position, self.max_position)
        velocity = tf.where((position == self.min_position) & (velocity < 0), 0.0, velocity)
        physics = tf.stack([position, velocity], 1)
        terminated = (position >= self.goal_position) & (velocity >= self.goal_velocity)
        state, truncated = advance(state, physics, self.max_episode_steps)
        reward = -tf.ones_like(position, dtype=tf.float32)
        return state, tf.cast(physics, tf.float32), reward, terminated, truncated
