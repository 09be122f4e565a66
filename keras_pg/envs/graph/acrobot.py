"""Acrobot-v1 in TensorFlow ops: gymnasium's AcrobotEnv ("book" dynamics, one RK4 step of
dt = 0.2 s per action, no torque noise), in float64."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import tensorflow as tf

from keras_pg.envs.graph.base import GraphEnvState, GraphStep, advance, uniform_reset

PI = math.pi


def wrap(x: tf.Tensor, low: float, high: float) -> tf.Tensor:
    """gymnasium's `wrap`: shift by the period until in [low, high]. Two shifts cover every
    reachable case (one step moves an angle by at most dt * max velocity < 2 periods)."""
    period = high - low
    for _ in range(2):
        x = tf.where(x > high, x - period, x)
        x = tf.where(x < low, x + period, x)
    return x


class Acrobot:
    """Batched Acrobot-v1: reward -1 per step (0 on the terminating step), terminated when
    the tip rises a link's length above the pivot, truncated at 500 steps.
    Physics: theta1, theta2, dtheta1, dtheta2; actions 0, 1, 2 = torque -1, 0, +1."""

    env_id = "Acrobot-v1"
    max_episode_steps = 500
    dt = 0.2
    link_length_1 = link_mass_1 = link_mass_2 = link_moi = 1.0
    link_com_pos_1 = link_com_pos_2 = 0.5
    max_vel_1, max_vel_2 = 4 * PI, 9 * PI

    def __init__(self) -> None:
        high = np.array([1.0, 1.0, 1.0, 1.0, self.max_vel_1, self.max_vel_2], dtype=np.float32)
        self.observation_space = gym.spaces.Box(-high, high, dtype=np.float32)
        self.action_space = gym.spaces.Discrete(3)

    def reset(self, seed: tf.Tensor, batch: int) -> tuple[GraphEnvState, tf.Tensor]:
        state = uniform_reset(seed, [-0.1] * 4, [0.1] * 4, batch)
        return state, self._observe(state.physics)

    @staticmethod
    def _observe(physics: tf.Tensor) -> tf.Tensor:
        t1, t2, d1, d2 = tf.unstack(physics, axis=1)
        return tf.cast(tf.stack([tf.cos(t1), tf.sin(t1), tf.cos(t2), tf.sin(t2), d1, d2], 1),
                       tf.float32)

    def _derivatives(self, s: tf.Tensor, torque: tf.Tensor) -> tf.Tensor:
        """gymnasium's _dsdt ("book" branch): [B, 4] -> [B, 4]."""
        m1, m2, l1 = self.link_mass_1, self.link_mass_2, self.link_length_1
        lc1, lc2, i1, i2, g = self.link_com_pos_1, self.link_com_pos_2, self.link_moi, \
            self.link_moi, 9.8
        theta1, theta2, dtheta1, dtheta2 = tf.unstack(s, axis=1)
        d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * tf.cos(theta2)) + i1 + i2
        d2 = m2 * (lc2**2 + l1 * lc2 * tf.cos(theta2)) + i2
        phi2 = m2 * lc2 * g * tf.cos(theta1 + theta2 - PI / 2.0)
        phi1 = (-m2 * l1 * lc2 * dtheta2**2 * tf.sin(theta2)
                - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * tf.sin(theta2)
                + (m1 * lc1 + m2 * l1) * g * tf.cos(theta1 - PI / 2) + phi2)
        ddtheta2 = (torque + d2 / d1 * phi1 - m2 * l1 * lc2 * dtheta1**2 * tf.sin(theta2)
                    - phi2) / (m2 * lc2**2 + i2 - d2**2 / d1)
        ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
        return tf.stack([dtheta1, dtheta2, ddtheta1, ddtheta2], 1)

    def step(self, state: GraphEnvState, action: tf.Tensor) -> GraphStep:
        """(state, obs float32 [B, 6], reward float32 [B], terminated, truncated bool [B])."""
        torque = tf.cast(action, tf.float64) - 1.0
        s, h = state.physics, self.dt
        k1 = self._derivatives(s, torque)
        k2 = self._derivatives(s + h / 2.0 * k1, torque)
        k3 = self._derivatives(s + h / 2.0 * k2, torque)
        k4 = self._derivatives(s + h * k3, torque)
        s = s + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        t1, t2, d1, d2 = tf.unstack(s, axis=1)
        physics = tf.stack([wrap(t1, -PI, PI), wrap(t2, -PI, PI),
                            tf.clip_by_value(d1, -self.max_vel_1, self.max_vel_1),
                            tf.clip_by_value(d2, -self.max_vel_2, self.max_vel_2)], 1)
        t1, t2 = physics[:, 0], physics[:, 1]
        terminated = -tf.cos(t1) - tf.cos(t2 + t1) > 1.0
        state, truncated = advance(state, physics, self.max_episode_steps)
        reward = tf.where(terminated, 0.0, -1.0)
        return state, self._observe(physics), reward, terminated, truncated
