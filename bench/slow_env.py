"""A simulated expensive environment for bench/scale.py: CartPole-v1's dynamics plus a fixed
cost of 2 ms of waiting per step, standing for a remote simulator.

    --env bench.slow_env:SlowCartPole-v1      (importing this module registers it)
"""

from __future__ import annotations

import time

import gymnasium as gym

STEP_COST_S = 0.002


class SlowCartPole(gym.Wrapper):
    """CartPole-v1 whose every step takes at least STEP_COST_S more."""

    def __init__(self):
        super().__init__(gym.make("CartPole-v1").unwrapped)

    def step(self, action):
        time.sleep(STEP_COST_S)
        return self.env.step(action)


if "SlowCartPole-v1" not in gym.registry:
    gym.register("SlowCartPole-v1", entry_point=SlowCartPole, max_episode_steps=500,
                 reward_threshold=475.0)
