"""MiniGrid from its raw Dict observation, for bench/minigrid_sb3.py (and `--env
bench.minigrid_envs:ID` on the command line; `pip install --no-deps -r bench/requirements.txt`).

MiniGrid observes {"direction": Discrete(4), "image": uint8 (7, 7, 3), "mission": a text};
no policy takes the text (keras_pg refuses it in one line), so gymnasium's FilterObservation
keeps the other two parts, exactly as they come.
"""

from __future__ import annotations

import gymnasium as gym

PARTS = ["direction", "image"]


def minigrid_dict(env_id: str, **kwargs: object) -> gym.Env:
    """A MiniGrid env observing {"direction", "image"} (the mission text dropped)."""
    import minigrid  # noqa: F401 (registers the MiniGrid-* ids)

    return gym.wrappers.FilterObservation(gym.make(env_id, **kwargs), filter_keys=PARTS)


# MiniGrid truncates its episodes itself (max_steps = 4 * size**2 = 100); the TimeLimit says
# so to keras_pg. reward_threshold: MiniGrid's reward is 1 - 0.9 * steps / max_steps on
# reaching the goal, and the shortest path of Empty-5x5 takes 5 steps (0.955).
gym.register("MiniGridDict-Empty-5x5-v0", entry_point=minigrid_dict,
             kwargs={"env_id": "MiniGrid-Empty-5x5-v0"}, max_episode_steps=100)
