"""A user's own environment, as a module the tests write to disk and import from there.

`GoLeft-v0`: a corridor of `length` cells (default 5), starting at the right end; action 0
moves left, 1 right; reward -1 per step until the left end. The best return is
-(length - 1); a uniformly random policy needs about (length - 1)^2 steps. Its __init__
takes no render_mode, like most hand-written envs.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

MODULE_NAME = "myenv"
MODULE_SOURCE = '''
import gymnasium as gym
import numpy as np


class GoLeft(gym.Env):
    """A corridor of `length` cells; start at the right end; -1 per step until the left end."""

    def __init__(self, length=5):
        self.length = length
        self.observation_space = gym.spaces.Box(0.0, 1.0, (length,), np.float32)
        self.action_space = gym.spaces.Discrete(2)

    def _obs(self):
        obs = np.zeros(self.length, np.float32)
        obs[self.pos] = 1.0
        return obs

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = self.length - 1
        return self._obs(), {}

    def step(self, action):
        self.pos = max(0, self.pos - 1) if action == 0 else min(self.length - 1, self.pos + 1)
        return self._obs(), -1.0, self.pos == 0, False, {}


def make_go_left(length=5):
    """A factory, as a user would hand it to keras_pg.REINFORCE."""
    return GoLeft(length)


if "GoLeft-v0" not in gym.registry:
    gym.register("GoLeft-v0", entry_point=GoLeft, max_episode_steps=20, reward_threshold=-4.5)
'''


def write_env_module(directory: Path) -> Path:
    """Write myenv.py into `directory` (a user's working directory) and return its path."""
    path = Path(directory) / f"{MODULE_NAME}.py"
    path.write_text(MODULE_SOURCE)
    return path


def import_env_module(directory: Path):
    """Write myenv.py into `directory` and import it from there (as `myenv`)."""
    write_env_module(directory)
    sys.path.insert(0, str(directory))
    try:
        sys.modules.pop(MODULE_NAME, None)
        return importlib.import_module(MODULE_NAME)
    finally:
        sys.path.remove(str(directory))
