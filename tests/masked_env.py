"""Corridor-v0: an env where most actions are illegal in every state, for action-mask tests.

    gymnasium.make("tests.masked_env:Corridor-v0", source="info")

The agent stands in cell s of a corridor of `length` cells (Discrete observation s) and
has 8 actions; in each cell two are legal: `forward(s)` moves one cell on, `back(s)` one
cell back (never below 0), both chosen by a fixed scramble of s. Reaching the last cell
ends the episode with reward +1; every step costs 0.01 and an illegal action -0.1 more
(the agent stays). A 30-step limit. With masks a random policy picks between the two legal
actions and soon learns to go forward; without, it must find the one of 8 that moves it on
in every cell.

`source` says how the env offers its masks (keras_pg.envs.masks): "info"
(info["action_mask"], int8 [8]), "method" (`action_masks()`, bool), "observation" (a Dict
{"cell": s, "action_mask": uint8 [8]}), or "none". `branches=True` makes the action
MultiDiscrete([8, 2]) -- the move and a flag whose 1 is illegal -- and the mask a tuple of
one array per branch. `bad` breaks the mask for error tests: "shape", "dtype", "values",
"empty" (no legal action in cell 1), "missing" (no mask in the info in cell 3).
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

ACTIONS = 8
FORWARD = (3, 6, 1, 4, 7, 2, 5, 0)
BACK = (5, 0, 7, 2, 1, 6, 3, 4)


class Corridor(gym.Env):
    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, length: int = 6, source: str = "info", branches: bool = False,
                 bad: str | None = None) -> None:
        self.length, self.source, self.branches, self.bad = length, source, branches, bad
        cell = gym.spaces.Discrete(length)
        self.observation_space = cell if source != "observation" else gym.spaces.Dict(
            {"cell": cell, "action_mask": gym.spaces.MultiBinary(ACTIONS)})
        self.action_space = (gym.spaces.MultiDiscrete([ACTIONS, 2]) if branches
                             else gym.spaces.Discrete(ACTIONS))
        self.cell = 0

    def mask(self) -> Any:
        """The legal actions in the current cell, in the form `source` and `bad` ask for."""
        mask = np.zeros(ACTIONS, np.int8)
        mask[[FORWARD[self.cell], BACK[self.cell]]] = 1
        if self.bad == "shape":
            mask = mask[:-1]
        elif self.bad == "dtype":
            mask = mask.astype(np.float32)
        elif self.bad == "values":
            mask = mask * 2
        elif self.bad == "empty" and self.cell == 1:
            mask[:] = 0
        if self.branches:
            return (mask, np.array([1, 0], np.int8))
        return mask.astype(bool) if self.source == "method" else mask

    def _observe(self) -> tuple[Any, dict[str, Any]]:
        info: dict[str, Any] = {"action_mask": self.mask()} if self.source == "info" else {}
        if self.bad == "missing" and self.cell == 3:
            info = {}
        if self.source == "observation":
            return {"cell": self.cell, "action_mask": np.asarray(self.mask(), np.int8)}, info
        return self.cell, info

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        self.cell = int(self.np_random.integers(0, self.length - 1))
        return self._observe()

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        move = int(action[0]) if self.branches else int(action)
        reward = -0.01
        if self.branches and int(action[1]) == 1:
            reward -= 0.1
        if move == FORWARD[self.cell]:
            self.cell += 1
        elif move == BACK[self.cell]:
            self.cell = max(self.cell - 1, 0)
        else:
            reward -= 0.1
        terminated = self.cell == self.length - 1
        obs, info = self._observe()
        return obs, reward + float(terminated), terminated, False, info


class MethodCorridor(Corridor):
    """Corridor whose masks come from its `action_masks()` method (sb3-contrib's way)."""

    def action_masks(self) -> Any:
        return self.mask()


def make_corridor(source: str = "info", **kwargs: Any) -> Corridor:
    """The entry point: a MethodCorridor for the method source, else a Corridor."""
    return (MethodCorridor if source == "method" else Corridor)(source=source, **kwargs)


def corridor_mask(env: gym.Env) -> np.ndarray:
    """An `action_mask_fn` for Corridor-v0 with source "none": the legal moves of its cell."""
    inner = env.unwrapped
    assert isinstance(inner, Corridor)
    mask = np.zeros(ACTIONS, bool)
    mask[[FORWARD[inner.cell], BACK[inner.cell]]] = True
    return mask


gym.register("Corridor-v0", entry_point=make_corridor, max_episode_steps=30)
