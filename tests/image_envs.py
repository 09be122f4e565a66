"""Small image environments with a known answer, for the CNN path (tests and bench/).

`SquareSideEnv`: each frame is black with one white square in the left or the right half;
action 0 means "left", 1 "right"; reward 1 for the right answer, 0 otherwise; 10 frames per
episode. A random policy scores 5, a policy that sees the square scores 10. Frames are
(side, side, channels) uint8, drawn once per position and reused, so stepping costs almost
nothing and the benchmark measures keras_pg, not the env.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

EPISODE_STEPS = 10


class SquareSideEnv(gym.Env):
    """Which half of the frame holds the square? Observation uint8 [side, side, channels]."""

    metadata = {"render_modes": []}  # noqa: RUF012 (gymnasium API)

    def __init__(self, side: int = 84, channels: int = 1, square: int | None = None):
        self.side, self.channels = side, channels
        self.square = square or max(2, side // 7)
        self.observation_space = gym.spaces.Box(0, 255, (side, side, channels), np.uint8)
        self.action_space = gym.spaces.Discrete(2)
        rows = range(0, side - self.square + 1, max(1, self.square // 2))
        self.frames = np.zeros((2, len(rows), side, side, channels), np.uint8)
        half = side // 2
        for answer in (0, 1):
            for i, row in enumerate(rows):
                col = (half - self.square) // 2 + answer * half
                self.frames[answer, i, row:row + self.square, col:col + self.square] = 255

    def _draw(self):
        self.answer = int(self.np_random.integers(2))
        return self.frames[self.answer, self.np_random.integers(self.frames.shape[1])]

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._draw(), {}

    def step(self, action):
        reward = float(int(action) == self.answer)
        self.t += 1
        return self._draw(), reward, self.t >= EPISODE_STEPS, False, {}
