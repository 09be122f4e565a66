"""Invalid-action masks: where an env's come from, and the one form the rollout reads.

An env says which actions are legal in the state it is in through one of four sources,
taken in this order:

    function     `action_mask_fn(env) -> mask`, given to REINFORCE (or --action-mask-fn
                 module:function) and called with the env after each reset and step
    method       the env's own `action_masks()` (sb3-contrib's convention)
    info         `info["action_mask"]` after reset and step (gymnasium's: Taxi-v4)
    observation  a Dict observation's key "action_mask" (PettingZoo's classic games),
                 which is then taken out of the observation the policy sees

A mask is bool, int8 or uint8 of 0s and 1s (1: legal): shape [n] for Discrete(n) actions,
[sum(nvec)] for MultiDiscrete(nvec) ones, or a tuple of one [nvec[i]] array per branch.
`ActionMasks` wraps each env and puts its mask, as an array [P], into `info["action_mask"]`
after every reset and step, whatever the source: gymnasium's vector envs gather it into
[N, P] (in subprocesses and Ray actors alike), which is what the rollout reads. The wrapper
checks each mask's shape and dtype (for free when it is already an array [P]); the rollout
checks the values of all N at once (`check_masks`: 0 and 1 only, and a legal action in every
branch of a state an action is taken in). A bad mask is an ActionMaskError naming the env,
the step and what was expected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from keras_pg.config import ConfigError
from serve import env_masks

MASK_KEY = "action_mask"
"""The info key (and Dict observation key) of a mask."""
SOURCES = ("function", "method", "info", "observation")
"""The sources, in the order they are looked for."""
MaskFn = Callable[[gym.Env], Any]


class ActionMaskError(RuntimeError):
    """An env's action mask is not one the policy can use; one line naming the env, the step
    and what was expected."""


def mask_size(action_space: gym.Space) -> int | None:
    """P, the entries of a mask over `action_space`'s actions: n for Discrete(n),
    sum(nvec) for MultiDiscrete; None for actions no mask applies to (Box, MultiBinary)."""
    if isinstance(action_space, gym.spaces.Discrete):
        return int(action_space.n)
    if isinstance(action_space, gym.spaces.MultiDiscrete):
        return int(action_space.nvec.sum())
    return None


def branches(action_space: gym.Space) -> tuple[int, ...]:
    """The sizes of the mask's consecutive slices, one per branch: (n,) or nvec."""
    if isinstance(action_space, gym.spaces.MultiDiscrete):
        return tuple(int(n) for n in action_space.nvec)
    return (int(action_space.n),)  # type: ignore[attr-defined]  # mask_size admitted it


def function_name(function: MaskFn | str) -> str:
    """What config.json keeps of an `action_mask_fn`: "module:qualname", checked to import
    back (a ConfigError for a lambda or a closure)."""
    if isinstance(function, str):
        import_function(function)
        return function
    if not callable(function):
        raise ConfigError(f"action_mask_fn must be a function env -> mask or module:function, "
                          f"got {type(function).__name__}")
    name = f"{getattr(function, '__module__', None)}:{getattr(function, '__qualname__', '?')}"
    try:
        found = import_function(name)
    except ConfigError:
        found = None
    if found is not function:
        raise ConfigError(f"action_mask_fn must be importable by its name to be saved in "
                          f"config.json (define it at a module's top level, not as a lambda "
                          f"or closure); {name} is not")
    return name


def import_function(name: str) -> MaskFn:
    """The function "module:function" names, or a one-line ConfigError."""
    module_name, _, attribute = name.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"action_mask_fn must be module:function, got {name!r}")
    try:
        return env_masks.import_function(name, "action_mask_fn")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def find_source(env: gym.Env, function: str | None, reset_info: dict[str, Any]) -> str | None:
    """The first of SOURCES that `env` (just reset, with `reset_info`) offers; None: none."""
    if function is not None:
        return "function"
    if _method(env) is not None:
        return "method"
    if MASK_KEY in reset_info:
        return "info"
    space = env.observation_space
    if isinstance(space, gym.spaces.Dict) and MASK_KEY in space.spaces:
        return "observation"
    return None


def _method(env: gym.Env) -> Callable[[], Any] | None:
    """The env's `action_masks` method, through its wrappers, if it has one."""
    try:
        method = env.get_wrapper_attr("action_masks")
    except AttributeError:
        return None
    return method if callable(method) else None


def unmasked_observation_space(space: gym.Space) -> gym.Space:
    """A Dict observation space without its MASK_KEY entry."""
    assert isinstance(space, gym.spaces.Dict)
    return gym.spaces.Dict({k: v for k, v in space.spaces.items() if k != MASK_KEY})


class ActionMasks(gym.Wrapper):
    """Puts the env's mask from `source` into info[MASK_KEY], checked, bool [P], after
    every reset and step (and, for the observation source, takes it out of the
    observation)."""

    def __init__(self, env: gym.Env, source: str, env_name: str,
                 function: str | None = None) -> None:
        super().__init__(env)
        self.source, self.env_name = source, env_name
        self.function = import_function(function) if function is not None else None
        if source == "observation":
            self.observation_space = unmasked_observation_space(env.observation_space)
        self.step_index = 0
        self.shape = (sum(branches(env.action_space)),)  # of a mask as it usually comes
        self.method = env.get_wrapper_attr("action_masks") if source == "method" else None

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self.step_index = 0
        return self._with_mask(obs, info)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.step_index += 1
        obs, info = self._with_mask(obs, info)
        return obs, reward, terminated, truncated, info

    def _with_mask(self, obs: Any, info: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """Every step: a few attribute reads when the mask is an array [P] already."""
        raw, obs = self._raw(obs, info)
        if not (type(raw) is np.ndarray and raw.shape == self.shape
                and raw.dtype in _MASK_DTYPES):
            raw = self._converted(raw)
        info[MASK_KEY] = raw  # added to the env's info, as gymnasium's own wrappers add
        return obs, info  # theirs (RecordEpisodeStatistics's "episode")

    def _raw(self, obs: Any, info: dict[str, Any]) -> tuple[Any, Any]:
        """(the mask as the source gives it, or None; the observation the policy sees)."""
        if self.source == "info":
            return info.get(MASK_KEY), obs
        if self.method is not None:
            return self.method(), obs
        if self.function is not None:
            return self.function(self.env), obs
        if not isinstance(obs, dict):  # the observation source
            return None, obs
        return obs.get(MASK_KEY), {k: v for k, v in obs.items() if k != MASK_KEY}

    def _converted(self, raw: Any) -> np.ndarray:
        """A mask in another form (a tuple per branch), as an array [P]; or the error."""
        where = f"env {self.env_name}, step {self.step_index} of an episode"
        if raw is None:
            raise ActionMaskError(f"{where}: no action mask in the {_SOURCE_TEXT[self.source]}; "
                                  f"expected one after every reset and step")
        return as_mask_array(raw, self.action_space, where)


_SOURCE_TEXT = {"info": "info dict (info['action_mask'])",
                "observation": "observation (key 'action_mask')"}
_MASK_DTYPES = (np.dtype(bool), np.dtype(np.int8), np.dtype(np.uint8))


def expected_text(sizes: tuple[int, ...]) -> str:
    """What a mask over actions of branch sizes `sizes` must be, for an error message."""
    space = (f"MultiDiscrete({list(sizes)})" if len(sizes) > 1 else f"Discrete({sizes[0]})")
    tuple_form = (f" or a tuple of shapes {', '.join(f'({n},)' for n in sizes)}"
                  if len(sizes) > 1 else "")
    return (f"bool, int8 or uint8 0/1 of shape ({sum(sizes)},){tuple_form} for action space "
            f"{space}")


def as_mask_array(raw: Any, action_space: gym.Space, where: str) -> np.ndarray:
    """One env's mask in another form than an array [P] of bool, int8 or uint8 (`ActionMasks`
    passes those as they are) as one: a tuple of branches concatenated; or an
    ActionMaskError saying at `where` what was expected. Its values are `check_masks`'."""
    sizes = branches(action_space)
    parts = list(raw) if isinstance(raw, tuple | list) and len(sizes) > 1 and \
        len(raw) == len(sizes) else [raw]
    arrays = [np.asarray(part) for part in parts]
    for array in arrays:
        if array.dtype not in _MASK_DTYPES:
            raise ActionMaskError(f"{where}: action mask of dtype {array.dtype}; "
                                  f"expected {expected_text(sizes)}")
    if all(a.ndim == 1 for a in arrays) and sum(len(a) for a in arrays) == sum(sizes):
        return np.concatenate(arrays)
    shapes = ", ".join(str(a.shape) for a in arrays)
    raise ActionMaskError(f"{where}: action mask of shape {shapes}; expected "
                          f"{expected_text(sizes)}")


def legal_rows(masks: np.ndarray, sizes: tuple[int, ...]) -> np.ndarray:
    """bool [N]: whether each row of masks [N, P] has a legal action in every branch."""
    if len(sizes) == 1:
        return np.asarray(masks.any(axis=1))
    starts = np.cumsum((0, *sizes[:-1]))
    return np.asarray((np.add.reduceat(masks.astype(np.int32), starts, axis=1) > 0).all(axis=1))


def check_masks(masks: np.ndarray, sizes: tuple[int, ...], legal_needed: np.ndarray,
                where: Callable[[int], str]) -> np.ndarray:
    """masks [N, P] (bool, int8 or uint8) as bool, or an ActionMaskError at `where(row)`
    of the first row holding a value other than 0 and 1, or, among the rows where
    `legal_needed` [N], no legal action in some branch."""
    if masks.dtype != np.bool_:
        bad = (masks != 0) & (masks != 1)
        if bad.any():
            row, column = np.argwhere(bad)[0]
            raise ActionMaskError(f"{where(row)}: action mask holds {masks[row, column]}; "
                                  f"expected {expected_text(sizes)}")
        masks = masks.astype(bool)
    stuck = legal_needed & ~legal_rows(masks, sizes)
    if stuck.any():
        row = int(np.flatnonzero(stuck)[0])
        raise ActionMaskError(f"{where(row)}: the action mask allows no action"
                              f"{_branch_text(masks[row], sizes)}; expected at least one 1 per "
                              f"branch (a state with no legal action should end the episode)")
    return masks


def _branch_text(mask: np.ndarray, sizes: tuple[int, ...]) -> str:
    if len(sizes) == 1:
        return ""
    bounds = np.cumsum((0, *sizes))
    empty = next(i for i in range(len(sizes)) if not mask[bounds[i]:bounds[i + 1]].any())
    return f" in branch {empty}"


def mask_description(source: str | None) -> dict[str, Any]:
    """What spaces.json says of a run's masks: {"action_mask": {"source": source}}, or {}
    for a run without (its spaces.json is as before masks existed)."""
    return {} if source is None else {MASK_KEY: {"source": source}}
