"""Pendulum-v1 in TensorFlow ops: gymnasium's PendulumEnv (g = 10), in float64."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import tensorflow as tf

from keras_pg.envs.graph.base import GraphEnvState, GraphStep, advance, uniform_reset


class Pendulum:
    """Batched Pendulum-v1: reward -(angle^2 + 0.1 velocity^2 + 0.001 torque^2), never
    terminates, truncated at 200 steps. Physics: theta, theta_dot; action: torque [B, 1]
    (clipped to [-2, 2])."""

    env_id = "Pendulum-v1"
    max_episode_steps = 200
    max_speed, max_torque, dt, g, m, length = 8.0, 2.0, 0.05, 10.0, 1.0, 1.0

    def __init__(self) -> None:
        high = np.array([1.0, 1.0, self.max_speed], dtype=np.float32)
        self.observation_space = gym.spaces.Box(-high, high, dtype=np.float32)
        self.action_space = gym.spaces.Box(-self.max_torque, self.max_torque, (1,), np.float32)

    def reset(self, seed: tf.Tensor, batch: int) -> tuple[GraphEnvState, tf.Tensor]:
        """theta uniform in [-pi, pi], theta_dot in [-1, 1]."""
        state = uniform_reset(seed, [-math.pi, -1.0], [math.pi, 1.0], batch)
        return state, self._observe(state.physics)

    @staticmethod
    def _observe(physics: tf.Tensor) -> tf.Tensor:
        theta, theta_dot = tf.unstack(physics, axis=1)
        return tf.cast(tf.stack([tf.cos(theta), tf.sin(theta), theta_dot], 1), tf.float32)

    def step(self, state: GraphEnvState, action: tf.Tensor) -> GraphStep:
        """(state, obs float32 [B, 3], reward float32 [B], terminated, truncated bool [B])."""
        theta, theta_dot = tf.unstack(state.physics, axis=1)
        # gymnasium clips the float32 action, then computes in float64.
        u = tf.cast(tf.clip_by_value(tf.cast(action[:, 0], tf.float32), -self.max_torque,
                                     self.max_torque), tf.float64)
        normalized = tf.math.floormod(theta + math.pi, 2 * math.pi) - math.pi
        costs = normalized**2 + 0.1 * theta_dot**2 + 0.001 * u**2
        new_theta_dot = theta_dot + (3 * self.g / (2 * self.length) * tf.sin(theta)
                                     + 3.0 / (self.m * self.length**2) * u) * self.dt
        new_theta_dot = tf.clip_by_value(new_theta_dot, -self.max_speed, self.max_speed)
        physics = tf.stack([theta + new_theta_dot * self.dt, new_theta_dot], 1)
        state, truncated = advance(state, physics, self.max_episode_steps)
        terminated = tf.zeros_like(truncated)
        return state, self._observe(physics), tf.cast(-costs, tf.float32), terminated, truncated
