"""Observations as the policy takes them: one array [N, ...], or {part: array [N, ...]} for
a Dict or Tuple observation space (`serve.spaces.observation_parts`), the same N rows in
every part. These functions treat both alike, so that rollouts, batches and the run
directory need not know which they hold.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

import gymnasium as gym
import numpy as np

from serve import contract
from serve.observations import FLOAT32, UINT8, as_batch, as_part_batches
from serve.spaces import is_structured, part_specs

Obs: TypeAlias = np.ndarray | dict[str, np.ndarray]
Dtypes: TypeAlias = np.dtype | dict[str, np.dtype]
"""The dtype of each part (as `keras_pg.policy.observation_dtypes` gives them)."""


def as_parts(obs: Any) -> Obs:
    """An env's observations as the policy takes them: a Dict's dict as a plain dict, a
    Tuple's tuple as {"0": ..., "1": ...}, an array as it is."""
    if isinstance(obs, tuple):
        return {str(i): part for i, part in enumerate(obs)}
    if isinstance(obs, dict):
        return dict(obs)
    return obs


def map_obs(function: Callable[..., np.ndarray], *obs: Obs) -> Obs:
    """`function` applied to each part (of every `obs`, part by part), or to the arrays."""
    if isinstance(obs[0], dict):
        return {name: function(*(o[name] for o in obs)) for name in obs[0]}
    return function(*obs)


def arrays(obs: Obs) -> list[np.ndarray]:
    """The parts' arrays (one for an unstructured observation)."""
    return list(obs.values()) if isinstance(obs, dict) else [obs]


def rows(obs: Obs) -> int:
    """N, the observations held."""
    return len(arrays(obs)[0])


def row_bytes(obs: Obs) -> int:
    """The bytes of one observation, all parts."""
    return sum(part[0].nbytes for part in arrays(obs))


def cast(obs: Obs, dtypes: Dtypes) -> Obs:
    """Each part as its dtype (no copy where it has it already)."""
    if isinstance(obs, dict):
        return {name: part.astype(dtypes[name] if isinstance(dtypes, dict) else dtypes,
                                  copy=False) for name, part in obs.items()}
    return obs.astype(dtypes, copy=False)  # type: ignore[arg-type]


def zeros(obs: Obs, count: int, dtypes: Dtypes) -> Obs:
    """`count` zero observations shaped as those of `obs` ([N, ...] per part)."""
    return cast(map_obs(lambda part: np.zeros((count, *part.shape[1:]), part.dtype), obs),
                dtypes)


def set_rows(target: Obs, index: np.ndarray, source: Obs, source_index: np.ndarray) -> None:
    """target[index] = source[source_index], part by part, in place."""
    for into, part in zip(arrays(target), arrays(source), strict=True):
        into[index] = part[source_index]


def stack(steps: list[Obs]) -> Obs:
    """[T, N, ...] from T observations [N, ...]."""
    return map_obs(lambda *parts: np.stack(parts), *steps)


def concatenate(batches: list[Obs]) -> Obs:
    """The rows of `batches`, in order."""
    return map_obs(lambda *parts: np.concatenate(parts), *batches)


def observation_batch(obs: Any, space: gym.Space) -> tuple[Obs, bool]:
    """A caller's observations (one, or a batch) as the policy of `space` takes them, and
    whether one was given: `serve.observations.as_batch`, or `as_part_batches` for a Dict or
    Tuple space, with the shapes and dtypes of the policy's inputs."""
    specs = {name: (shape, UINT8 if dtype == "uint8" else FLOAT32)
             for name, (shape, dtype) in part_specs(space).items()}
    if is_structured(space):
        return as_part_batches(obs, specs)
    return as_batch(obs, *specs[contract.INPUT])
