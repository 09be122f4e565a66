"""CartPole-v1 in TensorFlow ops, step for step gymnasium's CartPoleEnv (euler integrator).

Dynamics run in float64 like gymnasium's (which keeps its state as a float64 array), so the
same state and action give the same next state; observations are float32 as there.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import tensorflow as tf

from keras_pg.envs.graph.base import GraphEnvState, GraphStep, advance, uniform_reset


class CartPole:
    """Batched CartPole-v1: reward 1 per step, terminated when |x| > 2.4 or |theta| > 12
    degrees, truncated at 500 steps. Physics: x, x_dot, theta, theta_dot."""

    env_id = "CartPole-v1"
    max_episode_steps = 500
    gravity, masscart, masspole, length = 9.8, 1.0, 0.1, 0.5
    force_mag, tau = 10.0, 0.02
    theta_threshold = 12 * 2 * math.pi / 360
    x_threshold = 2.4

    def __init__(self) -> None:
        high = np.array([self.x_threshold * 2, np.inf, self.theta_threshold * 2, np.inf],
                        dtype=np.float32)
        self.observation_space = gym.spaces.Box(-high, high, dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)

    def reset(self, seed: tf.Tensor, batch: int) -> tuple[GraphEnvState, tf.Tensor]:
        """Every state uniform in [-0.05, 0.05], as gymnasium's reset (other random numbers)."""
        state = uniform_reset(seed, [-0.05] * 4, [0.05] * 4, batch)
        return state, tf.cast(state.physics, tf.float32)

    def step(self, state: GraphEnvState, action: tf.Tensor) -> GraphStep:
        """(state, obs float32 [B, 4], reward float32 [B], terminated, truncated bool [B])."""
        x, x_dot, theta, theta_dot = tf.unstack(state.physics, axis=1)
        force = tf.where(tf.equal(action, 1), self.force_mag, -self.force_mag)
        force = tf.cast(force, tf.float64)
        total_mass = self.masspole + self.masscart
        polemass_length = self.masspole * self.length
        costheta, sintheta = tf.cos(theta), tf.sin(theta)
        temp = (force + polemass_length * tf.square(theta_dot) * sintheta) / total_mass
        thetaacc = (self.gravity * sintheta - costheta * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * tf.square(costheta) / total_mass))
        xacc = temp - polemass_length * thetaacc * costheta / total_mass
        physics = tf.stack([x + self.tau * x_dot, x_dot + self.tau * xacc,
                            theta + self.tau * theta_dot, theta_dot + self.tau * thetaacc], 1)
        x, theta = physics[:, 0], physics[:, 2]
        terminated = ((x < -self.x_threshold) | (x > self.x_threshold)
                      | (theta < -self.theta_threshold) | (theta > self.theta_threshold))
        state, truncated = advance(state, physics, self.max_episode_steps)
        reward = tf.ones_like(x, dtype=tf.float32)
        return state, tf.cast(physics, tf.float32), reward, terminated, truncated
