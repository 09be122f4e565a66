"""CartPole without its velocities: a partially observed task, for recurrent policies.

    python -m keras_pg train --env keras_pg.envs.partial:CartPoleNoVel-v1 ...
    gymnasium.make("keras_pg.envs.partial:CartPoleNoVel-v1")

CartPole-v1 observes (cart position x, cart velocity, pole angle theta, pole angular
velocity). `NoVelocity` removes the two velocities and keeps (x, theta), entries 0 and 2.
Where the cart and the pole are going is then no longer in an observation: it has to be
inferred from successive positions, so the task is partially observed and a feed-forward
policy, which sees one observation at a time, cannot act well on it; a recurrent policy (which
carries a state from step to step) can. The dynamics, rewards, termination and time limit are
CartPole-v1's unchanged.

Importing this module registers `CartPoleNoVel-v1` (CartPole-v1's env under NoVelocity, with
CartPole-v1's max_episode_steps 500 and reward_threshold 475), once: importing it again, or
loading the file a second time under another name, leaves the registration as it is. The
`module:EnvId` form above imports it first. rl-zoo3 registers an env of the same name whose
wrapper sets the velocities to zero instead (its observation keeps 4 entries); this one drops
them (2 entries). The information is the same.

The module imports only gymnasium and numpy, so a venv without TensorFlow can load this file
by its path (as bench/recurrent_sb3.py does) without importing keras_pg's package; the
registered entry point is a function object, not a "module:function" string, for the same
reason (gymnasium would import keras_pg to resolve the string).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

ENV_ID = "CartPoleNoVel-v1"
KEPT = (0, 2)
"""The entries of CartPole's observation that NoVelocity keeps: cart position, pole angle."""

Observation = np.ndarray
Action = int | np.ndarray
"""CartPole's action: 0 (push left) or 1 (push right); CartPoleEnv takes both types."""


class NoVelocity(gym.ObservationWrapper[Observation, Action, Observation]):
    """CartPole observing (x, theta): its observation without the velocity entries 1 and 3.

    The observation space is a Box of shape (2,) whose bounds are the wrapped space's bounds
    of those entries (x within +-4.8, theta within +-0.419 rad on CartPole-v1).
    """

    def __init__(self, env: gym.Env[Observation, Action]) -> None:
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, gym.spaces.Box) or space.shape != (4,):
            raise ValueError(f"NoVelocity wraps CartPole's Box of shape (4,), not {space}")
        kept = list(KEPT)
        self.observation_space = gym.spaces.Box(
            low=space.low[kept], high=space.high[kept], dtype=space.dtype)

    def observation(self, observation: Observation) -> Observation:
        return observation[list(KEPT)]


def cart_pole_no_vel(**kwargs: Any) -> gym.Env[Observation, Action]:
    """CartPole-v1's env (`kwargs` to CartPoleEnv: render_mode, sutton_barto_reward) under
    NoVelocity; the registration adds the time limit."""
    return NoVelocity(CartPoleEnv(**kwargs))


if ENV_ID not in gym.registry:
    gym.register(ENV_ID, entry_point=cart_pole_no_vel, max_episode_steps=500,
                 reward_threshold=475.0)
