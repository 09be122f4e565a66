"""Small envs with structured spaces that a policy solves in seconds, registered for the
runtimes that rebuild an env from its id ("tests.structured_envs:Switches-v0").

Switches-v0: MultiBinary(4) actions. Each step shows 4 signs in [-1, 1]; the reward is the
    fraction of bits set to (sign > 0). 4 steps: the best return is 4, a random policy's 2.
Dials-v0: MultiDiscrete([3, 4]) actions. Each step shows two targets (one-hot, 3 + 4
    values); the reward is the fraction of the two dials set to their target. 4 steps: the
    best return is 4, a random policy's about 1.17.
Beacon-v0: Dict observations {"direction": Discrete(4), "image": uint8 (6, 6, 1)}, Discrete(2)
    actions. The image shows a beacon in its left or right half; the rewarded action is the
    beacon's side, swapped when the direction is 2 or 3: both parts are needed. 4 steps: the
    best return is 4, a random policy's 2.
Pair-v0: Tuple observations (Box(2), Discrete(3)), Discrete(3) actions. The rewarded action is
    the Discrete part, plus 1 when the Box's first value is positive (mod 3). 4 steps: the
    best return is 4, a random policy's 4/3.
Lock-v0: MultiDiscrete([3, 3]) observations, Discrete(3) actions: the rewarded action is the
    sum of the two values mod 3. 4 steps: the best return is 4, a random policy's 4/3.
Mirror-v0: MultiBinary(4) observations and actions: the reward is the fraction of bits
    copied. 4 steps: the best return is 4, a random policy's 2.
Mission-v0: Dict observations {"direction": Discrete(4), "mission": Text}, as MiniGrid's: the
    text part is one no policy takes (gymnasium.wrappers.FilterObservation drops it).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

STEPS = 4
DIALS = (3, 4)


class Quiz(gym.Env):
    """STEPS steps; each shows an observation (`_observe`, which draws what the answer
    depends on) and rewards the action that answers it (`_reward`, before the next draw)."""

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._observe(), {}

    def step(self, action):
        reward = self._reward(action)
        self.t += 1
        return self._observe(), reward, self.t >= STEPS, False, {}


class Switches(Quiz):
    """Set each of 4 switches to whether its sign is positive."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
        self.action_space = gym.spaces.MultiBinary(4)

    def _observe(self) -> np.ndarray:
        self.signs = self.np_random.uniform(-1.0, 1.0, 4).astype(np.float32)
        return self.signs

    def _reward(self, action) -> float:
        return float(np.mean(np.asarray(action) == (self.signs > 0)))


class Dials(Quiz):
    """Turn two dials (3 and 4 positions) to the targets shown."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(0.0, 1.0, (sum(DIALS),), np.float32)
        self.action_space = gym.spaces.MultiDiscrete(DIALS)

    def _observe(self) -> np.ndarray:
        self.targets = np.array([self.np_random.integers(n) for n in DIALS])
        obs = np.zeros(sum(DIALS), np.float32)
        obs[self.targets[0]] = obs[DIALS[0] + self.targets[1]] = 1.0
        return obs

    def _reward(self, action) -> float:
        return float(np.mean(np.asarray(action) == self.targets))


class Beacon(Quiz):
    """Point to the beacon's side of the image, swapped for directions 2 and 3."""

    SIDE = 6

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Dict({
            "image": gym.spaces.Box(0, 255, (self.SIDE, self.SIDE, 1), np.uint8),
            "direction": gym.spaces.Discrete(4)})
        self.action_space = gym.spaces.Discrete(2)

    def _observe(self) -> dict:
        self.right = int(self.np_random.integers(2))
        self.direction = int(self.np_random.integers(4))
        image = np.zeros((self.SIDE, self.SIDE, 1), np.uint8)
        row = self.np_random.integers(self.SIDE)
        column = self.np_random.integers(self.SIDE // 2) + self.right * (self.SIDE // 2)
        image[row, column, 0] = 255
        return {"direction": self.direction, "image": image}

    def _reward(self, action) -> float:
        return float(int(action) == self.right ^ (self.direction >= 2))


class Pair(Quiz):
    """Answer the Discrete part, plus 1 when the Box's first value is positive (mod 3)."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Tuple((gym.spaces.Box(-1.0, 1.0, (2,), np.float32),
                                                   gym.spaces.Discrete(3)))
        self.action_space = gym.spaces.Discrete(3)

    def _observe(self) -> tuple:
        self.obs = (self.np_random.uniform(-1.0, 1.0, 2).astype(np.float32),
                    int(self.np_random.integers(3)))
        return self.obs

    def _reward(self, action) -> float:
        box, index = self.obs
        return float(int(action) == (index + int(box[0] > 0)) % 3)


class Lock(Quiz):
    """Answer the sum of two dials mod 3."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.MultiDiscrete([3, 3])
        self.action_space = gym.spaces.Discrete(3)

    def _observe(self) -> np.ndarray:
        self.values = self.np_random.integers(0, 3, 2)
        return self.values.copy()

    def _reward(self, action) -> float:
        return float(int(action) == self.values.sum() % 3)


class Mirror(Quiz):
    """Copy 4 bits."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.MultiBinary(4)
        self.action_space = gym.spaces.MultiBinary(4)

    def _observe(self) -> np.ndarray:
        self.bits = self.np_random.integers(0, 2, 4).astype(np.int8)
        return self.bits.copy()

    def _reward(self, action) -> float:
        return float(np.mean(np.asarray(action) == self.bits))


class Mission(Quiz):
    """Act as the direction's parity says; a mission text comes along."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Dict({"direction": gym.spaces.Discrete(4),
                                                  "mission": gym.spaces.Text(32)})
        self.action_space = gym.spaces.Discrete(2)

    def _observe(self) -> dict:
        self.direction = int(self.np_random.integers(4))
        return {"direction": self.direction, "mission": "get to the green goal square"}

    def _reward(self, action) -> float:
        return float(int(action) == self.direction % 2)


for _name, _entry in (("Switches-v0", Switches), ("Dials-v0", Dials), ("Beacon-v0", Beacon),
                      ("Pair-v0", Pair), ("Lock-v0", Lock), ("Mirror-v0", Mirror),
                      ("Mission-v0", Mission)):
    if _name not in gym.registry:
        gym.register(_name, entry_point=_entry, max_episode_steps=STEPS)
