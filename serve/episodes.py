"""The episode loop: an OnnxPolicy acting in its gymnasium environment.

A recurrent policy's state travels with the episode (serve.state.Episode): zeros at each
episode's first step, then the state the previous step returned. A policy trained with action
masks gets each state's mask from the env, read where training read it (serve/env_masks.py).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import numpy as np

from serve import contract
from serve.env_masks import mask_reader, mask_source
from serve.envs import check_env_fits, env_recipe, make_env
from serve.policy import OnnxPolicy


def run_episodes(policy: OnnxPolicy, env_id: str | None = None, episodes: int = 100,
                 seed: int = 0, deterministic: bool = True, gif: str | Path | None = None,
                 env_kwargs: dict[str, Any] | None = None,
                 max_episode_steps: int | None = None) -> dict[str, Any]:
    """Play `episodes` episodes, one action per call to `policy.act`, as an app would (a
    recurrent policy's state carried from step to step, and zeroed where an episode starts;
    the action masks of a policy trained with them read from the env at each step).

    Args:
        policy: the loaded policy.
        env_id: a gymnasium id or "module:EnvId" (default: the metadata's env_id, built with
            the metadata's env_kwargs and max_episode_steps, which an explicit env_id also
            gets if it is the metadata's).
        episodes: number of episodes; episode i is reset with seed `seed + i`.
        seed: first reset seed.
        deterministic: greedy actions (True) or sampled ones.
        gif: if given, the first episode is also rendered (rgb_array) into this GIF file.
        env_kwargs: gymnasium.make keyword arguments, instead of the metadata's.
        max_episode_steps: the time limit, instead of the metadata's (or the registered one).

    Returns:
        mean_return, std_return, episodes, returns (list), env_id, steps, and the per-action
        latency of `policy.act` in microseconds: latency_p50_us, latency_p99_us.

    Raises:
        ValueError: one line, for bad arguments (a GIF path that cannot be written among
            them, before any episode) or an env that cannot be built.
    """
    recipe = env_recipe(policy.metadata, env_id, env_kwargs, max_episode_steps)
    if episodes <= 0:
        raise ValueError(f"episodes must be a positive integer, got {episodes}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    if gif:
        check_gif_path(Path(gif))  # now, not after the episodes
        # Off-screen rendering: pygame needs no display (and warns without one).
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    env = make_env(recipe, render_mode="rgb_array" if gif else None)
    returns: list[float] = []
    latencies_ns: list[int] = []
    frames: list[np.ndarray] = []
    try:
        inputs = policy.observation_parts or {
            contract.INPUT: (policy.observation_shape, policy.observation_dtype)}
        source = mask_source(policy.metadata)
        check_env_fits(env, recipe, inputs, policy.action_space,
                       contract.MASK_OBSERVATION_KEY if source == "observation" else None)
        read_mask = mask_reader(policy.metadata, env, recipe.env_id, policy.mask_spec.branches)
        episode = policy.episode(deterministic=deterministic)
        for i in range(episodes):
            obs, info = env.reset(seed=seed + i)
            episode.reset()  # a recurrent policy's state: zeros at the first step
            total, done = 0.0, False
            while not done:  # observations reach act() as the env made them (uint8 frames too)
                if gif and i == 0:
                    frames.append(cast(np.ndarray, env.render()))  # rgb_array: one frame
                obs, mask = read_mask(obs, info)  # the state the policy acts in: not the last
                start = time.perf_counter_ns()
                action = episode.act(obs, action_mask=mask)
                latencies_ns.append(time.perf_counter_ns() - start)
                obs, reward, terminated, truncated, info = env.step(action)
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
    finally:
        env.close()
    if gif:
        write_gif(Path(gif), frames, fps=env.metadata.get("render_fps", 30))
    latency_us = np.asarray(latencies_ns) / 1000.0
    return {
        "env_id": recipe.env_id, "episodes": episodes, "steps": len(latencies_ns),
        "mean_return": float(np.mean(returns)), "std_return": float(np.std(returns)),
        "returns": returns,
        "latency_p50_us": float(np.percentile(latency_us, 50)),
        "latency_p99_us": float(np.percentile(latency_us, 99)),
    }


def check_gif_path(path: Path) -> None:
    """A .gif file name in a writable directory, or a one-line ValueError."""
    if path.suffix.lower() != ".gif":
        raise ValueError(f"gif {path} should end in .gif")
    if path.is_dir():
        raise ValueError(f"gif {path} is a directory; expected a file path")
    if not path.parent.is_dir() or not os.access(path.parent, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write gif {path}: {path.parent} is not a writable directory")


def write_gif(path: Path, frames: list[np.ndarray], fps: int) -> None:
    """An animated GIF of uint8 [H, W, 3] frames, written atomically."""
    from PIL import Image

    images = [Image.fromarray(frame) for frame in frames]
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".gif")
    os.close(fd)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        images[0].save(tmp, save_all=True, append_images=images[1:],
                       duration=round(1000 / fps), loop=0)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
