"""Collecting complete on-policy episodes from a gymnasium vector environment.

Every round starts from a reset, assigns exactly `num_episodes` episodes to the environments
(each env runs one, then the next, as long as episodes remain to be started) and steps until
all of them have ended. Taking the first K episodes to finish would favour short episodes;
assigning them up front does not. No partial episode is carried into the next round, so every
transition comes from the current policy (REINFORCE is on-policy).

Gymnasium's vector envs autoreset in NEXT_STEP mode: the step after an episode ends only
resets that env (the action is ignored, the reward is 0, the observation is the new
episode's first one). Such reset steps are never part of an episode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from keras_pg import observations
from keras_pg.algorithm.batch import Batch
from keras_pg.algorithm.returns import discounted_returns, truncation_discounts
from keras_pg.envs.masks import MASK_KEY, branches, check_masks
from keras_pg.observations import Dtypes, Obs, as_parts
from keras_pg.policy.actors import ActFn


def collect_episodes(env: gym.vector.VectorEnv, act: ActFn, num_episodes: int, gamma: float,
                     seed: int | None = None,
                     to_env: Callable[[np.ndarray], np.ndarray] | None = None,
                     obs_dtype: Dtypes | type = np.float32,
                     max_steps: int | None = None, masked: bool = False,
                     env_name: str = "the env") -> Batch:
    """Run `env` with `act` until the episodes assigned up front have all ended.

    Args:
        env: a vector env in NEXT_STEP autoreset mode with N sub-environments.
        act: the policy, called once per vector step on all N observations and which of
            them start an episode.
        num_episodes: K, the number of complete episodes to return.
        gamma: discount for the returns.
        seed: seeds the reset of this round (None continues the env's RNG).
        to_env: maps the policy's actions to what the env receives (e.g. clipping); the
            batch keeps the policy's own actions.
        obs_dtype: the dtype the batch's observations are kept in (uint8 for images), per
            part for a Dict or Tuple observation (which `act` and the batch hold as
            {part: array}, see keras_pg/observations.py).
        max_steps: once the round's episodes have taken this many steps, no further episode
            is started (those in flight finish): a step budget overshoots by them, no more.
        masked: the env puts each state's invalid-action mask into its info
            (`keras_pg.envs.masks.ActionMasks`): `act` gets them, bool [N, P], and the batch
            keeps those of its transitions.
        env_name: how errors about the env's masks name it.

    Returns:
        A Batch of the K episodes (fewer if `max_steps` stopped the round early).

    Raises:
        EnvOutputError: the env returned a NaN or infinite reward or observation.
        ActionMaskError: a mask the env returned is not 0/1, or leaves no legal action.
    """
    obs_dtype = obs_dtype if isinstance(obs_dtype, dict) else np.dtype(obs_dtype)
    obs, info = env.reset(seed=seed)
    obs, num_envs = as_parts(obs), env.num_envs
    read_masks = _MaskReader(env, env_name) if masked else None
    masks = read_masks(info, 0, np.zeros(num_envs, dtype=bool)) if read_masks else None
    active = np.arange(num_envs) < num_episodes  # this env's next transition is kept
    resetting = np.zeros(num_envs, dtype=bool)  # this env's next step is an autoreset
    starts = np.ones(num_envs, dtype=bool)  # this env's observation is an episode's first
    started = int(active.sum())
    slot = np.arange(num_envs)  # which of the K episodes each active env is playing
    final_obs = observations.zeros(obs, num_episodes, obs_dtype)
    completed, taken = 0, 0
    steps: list[tuple[Any, ...]] = []

    # Per step, only what decides the next one; returns and lengths are sums at the end.
    # `active` and `slot` are replaced, never changed in place: `steps` holds them.
    while completed < (num_episodes if max_steps is None or taken < max_steps else started):
        actions = np.asarray(act(obs, starts, masks))
        next_obs, rewards, terminated, truncated, info = env.step(
            actions if to_env is None else to_env(actions))
        next_obs, starts = as_parts(next_obs), resetting  # an autoreset gave a first obs
        steps.append((obs, masks, actions, rewards, terminated, truncated, active, slot))
        if read_masks:
            masks = read_masks(info, len(steps), terminated | truncated)
        taken += int(np.count_nonzero(active))
        done = terminated | truncated
        if done.any() or resetting.any():
            finished = np.flatnonzero(done & active)
            cut = finished[truncated[finished] & ~terminated[finished]]  # by a time limit
            observations.set_rows(final_obs, slot[cut], next_obs, cut)
            completed += len(finished)
            # An env whose step was an autoreset now holds a fresh first observation: give
            # it the next unstarted episode, if any (and if the budget allows).
            allowed = num_episodes - started if max_steps is None or taken < max_steps else 0
            restart = np.flatnonzero(resetting)[:allowed]
            active = active & ~done
            if len(restart):
                slot = slot.copy()
                slot[restart] = started + np.arange(len(restart))
                active[restart] = True
                started += len(restart)
            resetting = done
        obs = next_obs

    obs_steps, mask_steps, *others = zip(*steps, strict=True)
    obs_t = observations.stack(list(obs_steps))
    actions_t, rewards_t, terminated_t, truncated_t, kept_t, slot_t = (
        np.stack(x) for x in others)
    done_t = terminated_t | truncated_t
    final_obs = observations.map_obs(lambda part: part[:started], final_obs)
    check_env_output(obs_t, rewards_t, kept_t, final_obs)
    kept_slots = slot_t[kept_t]
    return Batch(
        obs=observations.cast(observations.map_obs(lambda part: part[kept_t], obs_t),
                              obs_dtype),
        actions=actions_t[kept_t],
        rewards=rewards_t[kept_t].astype(np.float32),
        returns=discounted_returns(rewards_t, done_t, gamma)[kept_t],
        episode_returns=np.bincount(kept_slots, weights=rewards_t[kept_t], minlength=started),
        episode_lengths=np.bincount(kept_slots, minlength=started).astype(np.int64),
        episode=kept_slots.astype(np.int32),
        final_obs=final_obs,
        bootstrap_discount=truncation_discounts(truncated_t & ~terminated_t, done_t,
                                                gamma)[kept_t],
        action_masks=np.stack(mask_steps)[kept_t] if masked else None,
    )


class _MaskReader:
    """The invalid-action masks bool [N, P] of the observations a vector env's reset or step
    returned, from its info, checked (`check_masks`)."""

    def __init__(self, env: gym.vector.VectorEnv, env_name: str) -> None:
        self.sizes, self.env_name = branches(env.single_action_space), env_name
        self.num_envs = env.num_envs

    def __call__(self, info: dict[str, Any], step: int, done: np.ndarray) -> np.ndarray:
        """`done` [N]: where an episode just ended, the state needs no legal action (the
        next step only resets that env)."""
        assert MASK_KEY in info, "an ActionMasks env puts a mask in every info"
        return check_masks(info[MASK_KEY], self.sizes, ~done, lambda row: (
            f"env {self.env_name} (env {row} of {self.num_envs}), step {step} of this round"))


class EnvOutputError(RuntimeError):
    """The env returned something REINFORCE cannot learn from (NaN or inf)."""


class EnvFailure(RuntimeError):
    """The env raised where its traceback is not the user's to read (in a Ray actor); the
    message is one line naming where and the env's error."""


def check_env_output(obs: Obs, rewards: np.ndarray, kept: np.ndarray, final_obs: Obs) -> None:
    """Blame the env, before any update, for a non-finite reward or observation: of a kept
    transition ([T, N, ...] arrays, per part, and the [T, N] mask of transitions in
    episodes), or the last observation of an episode a time limit cut off (`final_obs`
    [K, ...])."""
    for name, values in [("reward", rewards),
                         *(("observation", part) for part in observations.arrays(obs))]:
        bad = _non_finite(values, kept)
        if bad is not None:
            _blame(name, values[bad], f"step {bad[0]} of env {bad[1]} in this round")
    for part in observations.arrays(final_obs):
        bad = _non_finite(part, np.ones(len(part), dtype=bool))
        if bad is not None:
            _blame("observation", part[bad], f"the last observation of episode {bad[0]} of "
                   f"this round, where a time limit cut it off")


def _non_finite(values: np.ndarray, kept: np.ndarray) -> tuple[int, ...] | None:
    """The first index of `kept`'s shape where `values` holds a NaN or inf, if any."""
    if not np.issubdtype(values.dtype, np.floating):
        return None
    bad = ~np.isfinite(values).reshape(*kept.shape, -1).all(axis=-1) & kept
    return tuple(np.argwhere(bad)[0]) if bad.any() else None


def _blame(name: str, value: np.ndarray, where: str) -> None:
    raise EnvOutputError(
        f"the env returned a non-finite {name} ({np.ravel(value)[:4]} at {where}); REINFORCE "
        f"cannot learn from it: fix the env's step() (this is not a learning-rate problem)")
