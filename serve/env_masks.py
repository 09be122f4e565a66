"""An env's action masks in the episode loop, read where training read them.

The metadata key `action_mask` (serve/contract.py) records the source of the masks of the
env a policy was trained in; the loop reads each step's mask from the same place:

    info         info["action_mask"] after reset and step
    method       the env's `action_masks()` (through its wrappers)
    observation  a Dict observation's key "action_mask", taken out of the observation the
                 policy gets (its inputs are the other keys)
    function     the metadata's "module:function" (the user's module, imported here),
                 called with the env
    null         none: every action legal (a policy trained without masks)

A MultiDiscrete env's mask may be a tuple of one array per branch (serve/masks.py joins
them). Only the states the policy acts in are read and checked: an episode's last state may
allow no action.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from serve import contract, masks

MaskReader = Callable[[Any, dict[str, Any]], tuple[Any, np.ndarray | None]]
"""(observation, info) of a state -> (the observation the policy takes, its checked mask
bool [P], or None: all legal)."""
INFO_KEY = "action_mask"  # gymnasium's (Taxi-v4's info), as keras_pg.envs.masks reads it
WHERE = {"info": f"info[{INFO_KEY!r}]", "method": "its action_masks() method",
         "observation": f"its observation's key {contract.MASK_OBSERVATION_KEY!r}"}


def mask_source(metadata: dict[str, Any]) -> str | None:
    """The source of the masks a policy was trained with; None: without (or no mask)."""
    mask = metadata.get(contract.ACTION_MASK_KEY)
    return None if mask is None else mask.get("source")


def mask_reader(metadata: dict[str, Any], env: gym.Env, env_id: str,
                branches: tuple[int, ...] | None) -> MaskReader:
    """How the loop reads a state's mask in `env` (named `env_id` in errors), for a policy
    of `metadata` whose masks have `branches` (None: it takes none); a one-line ValueError
    when the env lacks the source, and at a state whose mask is missing or bad."""
    source = mask_source(metadata)
    if source is None or branches is None:
        return lambda obs, info: (obs, None)
    function = metadata[contract.ACTION_MASK_KEY].get("function")
    where = WHERE.get(source, f"the action mask function {function}")
    read = _raw_reader(source, env, env_id, function)

    def reader(obs: Any, info: dict[str, Any]) -> tuple[Any, np.ndarray]:
        obs, raw = read(obs, info)
        if raw is None:
            raise ValueError(f"env {env_id!r} gives no action mask in {where}; the policy was "
                             f"trained with masks from there (metadata action_mask)")
        try:
            return obs, masks.as_masks(raw, branches, 1, True)[0]
        except ValueError as exc:
            raise ValueError(f"env {env_id!r}'s action mask from {where}: {exc}") from None

    return reader


def _raw_reader(source: str, env: gym.Env, env_id: str, function: str | None
                ) -> Callable[[Any, dict[str, Any]], tuple[Any, Any]]:
    """(observation, info) -> (the policy's observation, the env's mask as it gives it)."""
    if source == "info":
        return lambda obs, info: (obs, info.get(INFO_KEY))
    if source == "observation":
        return _from_observation
    if source == "method":
        try:
            method = env.get_wrapper_attr("action_masks")
        except AttributeError:
            raise ValueError(f"env {env_id!r} has no action_masks() method; the policy was "
                             f"trained with masks from it (metadata action_mask)") from None
        return lambda obs, info: (obs, method())
    call = import_function(str(function), "the action mask function of the policy's metadata")
    return lambda obs, info: (obs, call(env))


def _from_observation(obs: Any, info: dict[str, Any]) -> tuple[Any, Any]:
    """A Dict observation without its mask, and the mask (None when it has none)."""
    key = contract.MASK_OBSERVATION_KEY
    if not isinstance(obs, dict):
        return obs, None
    return {name: part for name, part in obs.items() if name != key}, obs.get(key)


def import_function(name: str, what: str) -> Callable[[gym.Env], Any]:
    """The function "module:function" names, or a one-line ValueError calling it `what`
    ("the action mask function ... of the policy's metadata", keras_pg's "action_mask_fn")."""
    module, _, attribute = name.partition(":")
    try:
        found: Any = importlib.import_module(module)
        for part in attribute.split("."):
            found = getattr(found, part)
    except Exception as exc:  # the user's module: whatever importing it raises
        raise ValueError(f"cannot import {what} {name!r}: {type(exc).__name__}: {exc}"
                         ) from None
    if not callable(found):
        raise ValueError(f"{what} {name!r} is not a function")
    return found
