"""A memory task, registered for the runtimes that rebuild an env from its id
("tests.memory_env:Cue-v0").

Cue-v0: Box(2) observations, Discrete(2) actions, STEPS steps. The first observation shows a
    cue, (+1 or -1, 0); the following ones show (0, 0), and the last one (0, 1): "answer
    now". Only the answer is rewarded: 1 when the action taken on the last observation is
    the cue's side (1 for +1, 0 for -1), else 0; every other action is ignored. The cue is
    gone when the answer is due, so a feed-forward policy succeeds half the time and one that
    remembers the first observation every time.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

STEPS = 5
SETTINGS = dict(recurrent_units=16, hidden=(16,), lr=0.01, gamma=1.0, num_envs=16,
                episodes_per_update=32, entropy_coef=0.0, eval_episodes=200, tensorboard=False)
"""keras_pg settings with which network="gru" solves Cue-v0 in ~20k steps (a few seconds),
while the MLP stays at chance."""


class Cue(gym.Env):
    """Remember the first observation's cue until the last step asks for it."""

    def __init__(self, steps: int = STEPS) -> None:
        self.steps = steps
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.cue = 0, int(self.np_random.integers(2))
        return np.array([2.0 * self.cue - 1.0, 0.0], np.float32), {}

    def step(self, action):
        answer = self.t == self.steps - 1
        reward = float(int(action) == self.cue) if answer else 0.0
        self.t += 1
        last = self.t == self.steps - 1
        return np.array([0.0, float(last)], np.float32), reward, answer, False, {}


if "Cue-v0" not in gym.registry:
    gym.register("Cue-v0", entry_point=Cue, max_episode_steps=STEPS)
