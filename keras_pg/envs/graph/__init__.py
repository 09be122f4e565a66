"""Batched, stateless environments written in TensorFlow ops (the `--backend graph` path).

Each environment mirrors a gymnasium classic-control environment -- the same observation
and action spaces, dynamics, reward, termination and time limit -- so that rollout, returns
and the update can run as one compiled function. Policies trained here are evaluated and
served against the real gymnasium environment.

    env = make_graph_env("CartPole-v1")
    state, obs = env.reset(seed, batch)                  # seed: int64 [2], stateless
    state, obs, reward, terminated, truncated = env.step(state, action)
"""

from __future__ import annotations

from typing import Any

from keras_pg.config import ConfigError
from keras_pg.envs.graph.acrobot import Acrobot
from keras_pg.envs.graph.base import GraphEnv
from keras_pg.envs.graph.cartpole import CartPole
from keras_pg.envs.graph.mountain_car import MountainCar
from keras_pg.envs.graph.pendulum import Pendulum

GRAPH_ENVS: dict[str, type[GraphEnv]] = {
    env.env_id: env for env in (CartPole, Acrobot, MountainCar, Pendulum)}


def make_graph_env(env_id: str, env_kwargs: dict[str, Any] | None = None,
                   max_episode_steps: int | None = None) -> GraphEnv:
    """The TensorFlow implementation of `env_id` (truncating at `max_episode_steps`, by
    default gymnasium's limit), or a ConfigError naming the ones there are."""
    if env_id not in GRAPH_ENVS:
        raise ConfigError(f"--backend graph has no implementation of {env_id}; it has "
                          f"{', '.join(sorted(GRAPH_ENVS))} (use --backend gym)")
    if env_kwargs:
        raise ConfigError(f"--backend graph implements {env_id} with its default settings "
                          f"only; drop --env-kwargs {env_kwargs} or use --backend gym")
    env = GRAPH_ENVS[env_id]()
    if max_episode_steps is not None:
        env.max_episode_steps = max_episode_steps
    return env
