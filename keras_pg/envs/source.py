"""The training environment: where it comes from, how to make it, what it offers.

An env is named by a registered gymnasium id ("CartPole-v1"), gymnasium's "module:EnvId"
form (the module is imported first, so that it can register EnvId), or given as a Python
callable that returns a `gymnasium.Env` (then its name is "<module.function>"). Keyword
arguments go to `gymnasium.make` (or to the callable), and a time limit wraps the env in
gymnasium's TimeLimit. Every failure is a one-line ConfigError (ConfigTypeError for an
object of the wrong kind), raised before anything is written.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

from keras_pg.config import Config, ConfigError, ConfigTypeError, KerasPGWarning
from keras_pg.envs.masks import (
    ActionMaskError,
    ActionMasks,
    find_source,
    import_function,
    mask_size,
)
from keras_pg.errors import first_line
from serve import contract
from serve.envs import env_module, factory_name, is_factory_name
from serve.spaces import is_structured, observation_parts

DEFAULT_TIME_LIMIT = 1000
"""Episode cap, in steps, for an env that has no time limit of its own."""


class TimeLimitWarning(KerasPGWarning):
    """The env has no time limit; keras_pg capped its episodes."""


@dataclasses.dataclass(frozen=True)
class EnvSource:
    """How to make the training env; picklable when `factory` is a module-level function."""

    name: str
    """The registered id, "module:EnvId", or "<module.function>" for a callable."""
    kwargs: dict[str, Any]
    """Keyword arguments for gymnasium.make (or the callable)."""
    max_episode_steps: int | None
    """A TimeLimit to apply; None keeps the env's own."""
    factory: Callable[..., gym.Env] | None = None
    mask_source: str | None = None
    """Where the env's action masks come from (`keras_pg.envs.masks.SOURCES`), or None:
    with one, every env made is wrapped in `ActionMasks`."""
    mask_function: str | None = None
    """The "module:function" of the "function" mask source."""

    def make(self, render_mode: str | None = None) -> gym.Env:
        """One env. `render_mode` is passed only when given (many hand-written envs take none)."""
        env = self.make_unmasked(render_mode)
        if self.mask_source is None:
            return env
        return ActionMasks(env, self.mask_source, self.name, self.mask_function)

    def make_unmasked(self, render_mode: str | None = None) -> gym.Env:
        """One env as the user's code makes it (and the time limit), without `ActionMasks`."""
        with _creating(self):
            if self.factory is not None:
                env = _checked_env(self.factory(**self.kwargs), self.name)
                return env if self.max_episode_steps is None else gym.wrappers.TimeLimit(
                    env, self.max_episode_steps)
            extra: dict[str, Any] = {"render_mode": render_mode} if render_mode else {}
            return gym.make(self.name, **self._limit(), **self.kwargs, **extra)

    def make_vector(self, num_envs: int, mode: str = "sync") -> gym.vector.VectorEnv:
        """`num_envs` copies behind gymnasium's vector API in NEXT_STEP autoreset mode (the
        rollout relies on it). `sync`: stepped in this process, with a registered env's
        native vectorized implementation (CartPole) where there is one; `async`: one
        subprocess per env (gymnasium's AsyncVectorEnv), for envs whose steps are slow."""
        env: gym.vector.VectorEnv
        with _creating(self):
            if mode == "async":
                env = gym.vector.AsyncVectorEnv([self.make] * num_envs)
            elif self.factory is not None or self.mask_source is not None:
                env = gym.vector.SyncVectorEnv([self.make] * num_envs)
            else:
                env = gym.make_vec(self.name, num_envs=num_envs, **self._limit(), **self.kwargs)
        mode = env.metadata.get("autoreset_mode", gym.vector.AutoresetMode.NEXT_STEP)
        if mode != gym.vector.AutoresetMode.NEXT_STEP:
            env.close()
            raise ConfigError(f"{self.name}: expected NEXT_STEP autoreset, got {mode}")
        return env

    def _limit(self) -> dict[str, Any]:
        return {} if self.max_episode_steps is None else {
            "max_episode_steps": self.max_episode_steps}


class EnvInfo(NamedTuple):
    """What one instance of the env reports."""

    observation_space: gym.Space
    action_space: gym.Space
    time_limit: int | None
    """Steps after which an episode is truncated (None: the env has no TimeLimit)."""
    reward_threshold: float | None
    """The registered return that counts as solved, if any."""
    mask_source: str | None = None
    """Where its action masks come from (`keras_pg.envs.masks.SOURCES`), or None."""


def env_source(env: str | Callable[..., gym.Env], config: Config) -> EnvSource:
    """The EnvSource of a user's `env` argument (an id, "module:EnvId" or a callable)."""
    if isinstance(env, gym.Env | gym.vector.VectorEnv):
        raise ConfigTypeError(
            f"env must be a gymnasium id, 'module:EnvId' or a function that returns a "
            f"gymnasium.Env; got an instance of {type(env).__name__}: pass a function that "
            f"creates one (keras_pg makes num_envs of them), e.g. the env's class")
    if isinstance(env, str):
        check_env_id(env)
        return EnvSource(env, dict(config.env_kwargs), config.max_episode_steps)
    if callable(env):
        return EnvSource(factory_name(env), dict(config.env_kwargs), config.max_episode_steps,
                         env)
    raise ConfigTypeError(f"env must be a gymnasium id, 'module:EnvId' or a function that "
                          f"returns a gymnasium.Env; got {type(env).__name__} {env!r}")


def check_env_id(env_id: str) -> gym.envs.registration.EnvSpec:
    """The registered spec of `env_id` (importing "module:" first), or a ConfigError
    naming the module that failed to import or suggesting close ids."""
    if is_factory_name(env_id):
        raise ConfigError(f"{env_id} names a Python env factory, which only Python can pass: "
                          f"keras_pg.REINFORCE.load(RUN_DIR, env=the_function)")
    module, name = env_module(env_id), env_id.rpartition(":")[2]
    if module:
        try:
            importlib.import_module(module)
        except Exception as exc:  # the user's module: any error while importing it
            raise ConfigError(f"cannot import module {module!r} for env {env_id!r}: "
                              f"{type(exc).__name__}: {first_line(exc)}") from None
    if name in gym.registry:
        return gym.registry[name]
    close = difflib.get_close_matches(name, list(gym.registry), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see gymnasium.pprint_registry()"
    where = f" (module {module!r} was imported but registers no such id)" if module else ""
    raise ConfigError(f"unknown gymnasium env id {name!r}{where}{hint}")


def inspect_env(source: EnvSource) -> EnvInfo:
    """Make one env, check its spaces and its API (one reset and one step), and read its
    time limit and reward threshold."""
    env = source.make()
    try:
        check_spaces(source.name, env.observation_space, env.action_space)
        check_api(source.name, env)
        spec = env.spec
        return EnvInfo(env.observation_space, env.action_space, _time_limit(env),
                       spec.reward_threshold if spec is not None else None, source.mask_source)
    except ActionMaskError as exc:
        raise ConfigError(str(exc)) from None
    finally:
        env.close()


def with_masks(source: EnvSource, config: Config) -> EnvSource:
    """`source` with the action masks its env offers (`keras_pg.envs.masks`), when
    `config.action_masks` is on; a ConfigError when the env offers masks its action space
    cannot take, or the config's action_mask_fn cannot be imported."""
    if not config.action_masks or config.backend == "graph":
        return source
    if config.action_mask_fn is not None:
        import_function(config.action_mask_fn)
    env = source.make_unmasked()
    try:
        _, reset_info = env.reset(seed=0)
        found = find_source(env, config.action_mask_fn, reset_info)
        if found is not None and mask_size(env.action_space) is None:
            raise ConfigError(
                f"{source.name} offers action masks ({found}), but its action space "
                f"{_one_line(env.action_space)} takes none: masks apply to Discrete and "
                f"MultiDiscrete actions (action_masks false ignores them)")
    finally:
        env.close()
    return dataclasses.replace(source, mask_source=found, mask_function=config.action_mask_fn)


def prepare_env(env: str | Callable[..., gym.Env], config: Config
                ) -> tuple[Config, EnvSource, EnvInfo]:
    """Resolve and check `env` for `config`. An env without a time limit gets
    DEFAULT_TIME_LIMIT, recorded in the returned Config, with a TimeLimitWarning: REINFORCE
    learns from complete episodes, and an episode that never ends would stall training."""
    source = with_masks(env_source(env, config), config)
    info = inspect_env(source)
    if info.time_limit is None:
        warnings.warn(f"{source.name} has no time limit; episodes are capped at "
                      f"{DEFAULT_TIME_LIMIT:,} steps (set max_episode_steps / "
                      f"--max-episode-steps to choose another)", TimeLimitWarning, stacklevel=3)
        config = dataclasses.replace(config, max_episode_steps=DEFAULT_TIME_LIMIT)
        source = dataclasses.replace(source, max_episode_steps=DEFAULT_TIME_LIMIT)
        info = info._replace(time_limit=DEFAULT_TIME_LIMIT)
    return config, source, info


def check_spaces(env_id: str, observation_space: gym.Space, action_space: gym.Space) -> None:
    """Raise a one-line ConfigError unless the spaces are ones the policy supports:
    Discrete, bounded one-dimensional Box, MultiDiscrete or MultiBinary actions; numeric Box
    (any shape), Discrete, MultiDiscrete or MultiBinary observations, or a Dict or Tuple of
    them (one level: `serve.spaces.observation_parts`)."""
    problem = _action_problem(action_space)
    if problem:
        raise ConfigError(
            f"{env_id} has action space {_one_line(action_space)}; keras_pg supports Discrete "
            f"actions, bounded one-dimensional Box actions, MultiDiscrete and MultiBinary actions"
            f"{f' ({problem})' if problem != UNSUPPORTED else ''}")
    problem = _observation_problem(observation_space)
    if problem:
        raise ConfigError(
            f"{env_id} has observation space {_one_line(observation_space)}; keras_pg supports "
            f"numeric Box, Discrete, MultiDiscrete and MultiBinary observations and a Dict or "
            f"Tuple of them{f' ({problem})' if problem != UNSUPPORTED else ''}")


PART_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")
"""A Dict key that can name an ONNX input, a TensorFlow one and a Keras one (keras_pg's own
layers of a part have dotted names, "one_hot.KEY": no key takes one)."""
RESERVED_PART_NAMES = frozenset({contract.PROBS, contract.MEAN, contract.STD, contract.ACTION,
                                 contract.ACTION_MASK, "features", "logits", "gaussian",
                                 "value", "concatenate"})
"""The ONNX outputs' names, the action mask input's, and keras_pg's layers' undotted ones."""


def _observation_problem(space: gym.Space) -> str | None:
    """Why the policy cannot take observations of `space` (UNSUPPORTED for a kind of space
    it has no input for), or None."""
    if not is_structured(space):
        return _part_problem(space)
    parts = observation_parts(space)
    if not parts:
        return f"an empty {type(space).__name__} has nothing to observe"
    for name, part in parts.items():
        where = f"part {name!r}"
        if is_structured(part):
            return (f"{where} is a {type(part).__name__}: one level of nesting is supported; "
                    f"flatten the inner one (gymnasium.wrappers.FlattenObservation on it)")
        if (not PART_NAME.fullmatch(name) or name in RESERVED_PART_NAMES
                or re.fullmatch(r"hidden_\d+", name)):
            return (f"key {name!r} cannot name a policy input: expected letters, digits, _ "
                    f"and -, and none of {', '.join(sorted(RESERVED_PART_NAMES))}, hidden_N")
        problem = _part_problem(part)
        if problem == UNSUPPORTED:
            return (f"{where} is {_one_line(part)}, which no policy input takes: drop it "
                    f"(gymnasium.wrappers.FilterObservation)")
        if problem:
            return f"{where}: {problem}"
    return None


def _part_problem(space: gym.Space) -> str | None:
    """Why one part (or the whole of an unstructured observation) cannot be taken, or None."""
    if isinstance(space, gym.spaces.Box):
        return None if np.issubdtype(space.dtype, np.number) else \
            f"a Box observation must be numeric, got dtype {space.dtype}"
    if isinstance(space, gym.spaces.Discrete):
        return None
    if isinstance(space, gym.spaces.MultiDiscrete | gym.spaces.MultiBinary):
        problem = _action_problem(space)  # the same rules: one dimension, from 0
        return problem.replace("action", "observation") if problem else None
    return UNSUPPORTED


UNSUPPORTED = "unsupported"


def _one_line(space: gym.Space) -> str:
    """A space's repr on one line (an array of sizes prints on several)."""
    return " ".join(str(space).split())


def _action_problem(space: gym.Space) -> str | None:
    """Why the policy cannot act in `space` (UNSUPPORTED for a kind of space it has no head
    for), or None."""
    if isinstance(space, gym.spaces.Discrete):
        return None
    if isinstance(space, gym.spaces.Box):
        if len(space.shape) != 1:
            return f"a Box action must be one-dimensional, got shape {space.shape}"
        bounded = np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))
        return None if bounded else "a Box action needs finite bounds"
    if isinstance(space, gym.spaces.MultiDiscrete):
        if space.nvec.ndim != 1:
            return f"a MultiDiscrete action must be one-dimensional, got nvec of shape " \
                   f"{space.nvec.shape}"
        return None if not np.any(space.start) else "a MultiDiscrete action must start at 0"
    if isinstance(space, gym.spaces.MultiBinary):
        shape = space.shape
        return None if len(shape) == 1 else f"a MultiBinary action must be one-dimensional, " \
                                             f"got shape {shape}"
    return UNSUPPORTED


def check_api(env_id: str, env: gym.Env) -> None:
    """Raise a one-line ConfigError unless `reset` returns (observation, info) and `step`
    the five values of gymnasium >= 0.26 (observation, reward, terminated, truncated, info);
    an env written for gym < 0.26 returns the observation alone, and four values from step."""
    reset = env.reset(seed=0)
    if not (isinstance(reset, tuple) and len(reset) == 2):
        raise ConfigError(f"the env {env_id}: reset() returned {_described(reset)}; expected "
                          f"(observation, info) as gymnasium envs return (gym < 0.26 API?)")
    step = env.step(env.action_space.sample())
    if not (isinstance(step, tuple) and len(step) == 5):
        raise ConfigError(f"the env {env_id}: step() returned {_described(step)}; expected "
                          f"(observation, reward, terminated, truncated, info) as gymnasium "
                          f"envs return (gym < 0.26 API, with one done flag?)")


def _described(value: object) -> str:
    if isinstance(value, tuple):
        return f"{len(value)} values"
    return f"a {type(value).__name__}"


def _time_limit(env: gym.Env) -> int | None:
    if env.spec is not None and env.spec.max_episode_steps is not None:
        return env.spec.max_episode_steps
    while isinstance(env, gym.Wrapper):
        if isinstance(env, gym.wrappers.TimeLimit):
            return env._max_episode_steps
        env = env.env
    return None


def _checked_env(env: object, name: str) -> gym.Env:
    if not isinstance(env, gym.Env):
        raise ConfigTypeError(f"env factory {name} returned {type(env).__name__}; expected a "
                              f"gymnasium.Env (a VectorEnv too is not accepted: keras_pg "
                              f"vectorizes the env itself)")
    return env


_UNEXPECTED_KWARG = re.compile(r"unexpected keyword argument '(\w+)'")


@contextmanager
def _creating(source: EnvSource) -> Iterator[None]:
    """Turn what creating the env raises into one line naming the env (and the kwarg)."""
    try:
        yield
    except ConfigError:
        raise
    except gym.error.DependencyNotInstalled as exc:
        raise ConfigError(f"{source.name} needs an extra dependency: {first_line(exc)}") from None
    except TypeError as exc:
        rejected = _UNEXPECTED_KWARG.search(str(exc))
        if rejected and rejected.group(1) in source.kwargs:
            raise ConfigError(f"{source.name} does not accept the env kwarg "
                              f"{rejected.group(1)!r} (env_kwargs {source.kwargs})") from None
        raise ConfigError(f"cannot create {source.name}: TypeError: {first_line(exc)}") from None
    except Exception as exc:  # the env's own code: whatever it raises is the user's to see
        raise ConfigError(f"cannot create {source.name}"
                          f"{f' with env_kwargs {source.kwargs}' if source.kwargs else ''}: "
                          f"{type(exc).__name__}: {first_line(exc)}") from None
