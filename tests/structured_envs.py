"""Small envs with structured spaces that a policy solves in seconds, registered for the
runtimes that rebuild an env from its id ("tests.structured_envs:Switches-v0").

Switches-v0: MultiBinary(4) actions. Each step shows 4 signs in [-1, 1]; the reward is the
    fraction of bits set to (sign > 0). 4 steps: the best return is 4, a random policy's 2.
Dials-v0: MultiDiscrete([3, 4]) actions. Each step shows two targets (one-hot, 3 + 4
    values); the reward is the fraction of the two dials set to their target. 4 steps: the
    best return is 4, a random policy's about 1.17.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

STEPS = 4
DIALS = (3, 4)


class Switches(gym.Env):
    """Set each of 4 switches to whether its sign is positive."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
        self.action_space = gym.spaces.MultiBinary(4)

    def _observe(self) -> np.ndarray:
        self.signs = self.np_random.uniform(-1.0, 1.0, 4).astype(np.float32)
        return self.signs

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._observe(), {}

    def step(self, action):
        reward = float(np.mean(np.asarray(action) == (self.signs > 0)))
        self.t += 1
        return self._observe(), reward, self.t >= STEPS, False, {}


class Dials(gym.Env):
    """Turn two dials (3 and 4 positions) to the targets shown."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(0.0, 1.0, (sum(DIALS),), np.float32)
        self.action_space = gym.spaces.MultiDiscrete(DIALS)

    def _observe(self) -> np.ndarray:
        self.targets = np.array([self.np_random.integers(n) for n in DIALS])
        obs = np.zeros(sum(DIALS), np.float32)
        obs[self.targets[0]] = obs[DIALS[0] + self.targets[1]] = 1.0
        return obs

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._observe(), {}

    def step(self, action):
        reward = float(np.mean(np.asarray(action) == self.targets))
        self.t += 1
        return self._observe(), reward, self.t >= STEPS, False, {}


for _name, _entry in (("Switches-v0", Switches), ("Dials-v0", Dials)):
    if _name not in gym.registry:
        gym.register(_name, entry_point=_entry, max_episode_steps=STEPS)
