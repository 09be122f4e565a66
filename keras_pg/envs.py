"""Creating and checking gymnasium environments."""

from __future__ import annotations

import difflib

import gymnasium as gym
import numpy as np

from keras_pg.config import ConfigError


def check_env_id(env_id: str) -> gym.envs.registration.EnvSpec:
    """The registered spec of `env_id`, or a ConfigError suggesting close ids."""
    if env_id in gym.registry:
        return gym.registry[env_id]
    close = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see gymnasium.pprint_registry()"
    raise ConfigError(f"unknown gymnasium env id {env_id!r}{hint}")


def make_vector_env(env_id: str, num_envs: int) -> gym.vector.VectorEnv:
    """`num_envs` copies of `env_id` behind gymnasium's vector API, checked for support.

    Environments with a native vectorized implementation (CartPole) use it; others run
    synchronously in this process. Autoreset is gymnasium's default NEXT_STEP mode, which
    the rollout relies on.
    """
    check_env(env_id)
    env = gym.make_vec(env_id, num_envs=num_envs)
    mode = env.metadata.get("autoreset_mode", gym.vector.AutoresetMode.NEXT_STEP)
    if mode != gym.vector.AutoresetMode.NEXT_STEP:
        env.close()
        raise ConfigError(f"{env_id}: expected NEXT_STEP autoreset, got {mode}")
    return env


def check_env(env_id: str) -> None:
    """Fail fast, before a run directory exists, on an unknown id or unsupported spaces."""
    check_env_id(env_id)
    try:
        env = gym.make(env_id)
    except gym.error.DependencyNotInstalled as exc:
        reason = str(exc).splitlines()[0]
        raise ConfigError(f"{env_id} needs an extra dependency: {reason}") from None
    try:
        check_spaces(env_id, env.observation_space, env.action_space)
    finally:
        env.close()


def check_spaces(env_id: str, observation_space: gym.Space, action_space: gym.Space) -> None:
    """Raise a one-line ConfigError unless the spaces are ones the policy supports:
    Discrete or one-dimensional Box actions; Box (any shape) or Discrete observations."""
    box_actions = (isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1
                   and np.all(np.isfinite(action_space.low))
                   and np.all(np.isfinite(action_space.high)))
    if not (isinstance(action_space, gym.spaces.Discrete) or box_actions):
        raise ConfigError(
            f"{env_id} has action space {action_space}; keras_pg supports Discrete actions "
            "and bounded one-dimensional Box actions")
    box_obs = (isinstance(observation_space, gym.spaces.Box)
               and np.issubdtype(observation_space.dtype, np.number))
    if not (box_obs or isinstance(observation_space, gym.spaces.Discrete)):
        raise ConfigError(
            f"{env_id} has observation space {observation_space}; keras_pg supports numeric "
            "Box and Discrete observations")


def reward_threshold(env_id: str) -> float | None:
    """The env's registered reward_threshold (the return that counts as solved), if any."""
    return check_env_id(env_id).reward_threshold
