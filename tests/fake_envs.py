"""A scripted vector env with gymnasium's NEXT_STEP autoreset, for rollout tests."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

RESET_REWARD = 1000.0  # a reset step's reward; must never reach an episode


class ScriptedVectorEnv(gym.vector.VectorEnv):
    """Env i plays episodes of the lengths in `lengths[i]` (cycling), reward 1 per step.

    Observations are [env, episode number, step within episode]; the step after an episode
    ends is an autoreset step, as in gymnasium: action ignored, reward RESET_REWARD here (0
    in gymnasium) so a leak is easy to see, observation [env, next episode, 0].
    """

    metadata = {"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP}  # noqa: RUF012 (gymnasium API)

    def __init__(self, lengths: list[list[int]], truncate_at: int | None = None):
        self.num_envs = len(lengths)
        self.lengths = lengths
        self.truncate_at = truncate_at
        self.single_observation_space = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
        self.single_action_space = gym.spaces.Discrete(2)
        self.observation_space = gym.vector.utils.batch_space(
            self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self.resets = 0

    def _obs(self) -> np.ndarray:
        return np.stack([np.arange(self.num_envs), self.episode, self.t], 1).astype(np.float32)

    def reset(self, *, seed=None, options=None):
        self.resets += 1
        self.episode = np.zeros(self.num_envs, dtype=np.int64)
        self.t = np.zeros(self.num_envs, dtype=np.int64)
        self.prev_done = np.zeros(self.num_envs, dtype=bool)
        return self._obs(), {}

    def step(self, actions):
        rewards = np.ones(self.num_envs, dtype=np.float32)
        self.t += 1
        length = np.array([lengths[e % len(lengths)]
                           for lengths, e in zip(self.lengths, self.episode, strict=True)])
        terminated = self.t >= length
        truncated = np.zeros(self.num_envs, dtype=bool)
        if self.truncate_at is not None:
            truncated = (self.t >= self.truncate_at) & ~terminated
        # NEXT_STEP autoreset: envs that ended last step only reset now.
        r = self.prev_done
        self.episode[r] += 1
        self.t[r] = 0
        rewards[r] = RESET_REWARD
        terminated[r] = False
        truncated[r] = False
        self.prev_done = terminated | truncated
        return self._obs(), rewards, terminated, truncated, {}
