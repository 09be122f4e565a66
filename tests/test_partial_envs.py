"""keras_pg.envs.partial: CartPole without its velocities (CartPoleNoVel-v1)."""

import importlib
import warnings

import gymnasium as gym
import numpy as np
import pytest

from keras_pg.envs import partial

ENV = "keras_pg.envs.partial:CartPoleNoVel-v1"


def test_the_observation_is_cartpoles_position_and_angle_under_the_same_seed_and_actions():
    full, masked = gym.make("CartPole-v1"), gym.make(ENV)
    actions = np.random.default_rng(0).integers(0, 2, size=2000)
    for episode in range(3):
        obs_full, _ = full.reset(seed=episode)
        obs, _ = masked.reset(seed=episode)
        steps = 0
        while True:
            assert obs.shape == (2,) and obs.dtype == np.float32
            np.testing.assert_array_equal(obs, obs_full[[0, 2]])
            assert masked.observation_space.contains(obs)
            action = int(actions[steps])
            obs_full, r_full, term_full, trunc_full, _ = full.step(action)
            obs, reward, terminated, truncated, _ = masked.step(action)
            assert (reward, terminated, truncated) == (r_full, term_full, trunc_full)
            steps += 1
            if terminated or truncated:
                break
    full.close()
    masked.close()


def test_the_space_keeps_cartpoles_bounds_of_position_and_angle():
    full, masked = gym.make("CartPole-v1"), gym.make(ENV)
    space = masked.observation_space
    assert isinstance(space, gym.spaces.Box) and space.shape == (2,)
    assert space.dtype == np.float32
    np.testing.assert_array_equal(space.low, full.observation_space.low[[0, 2]])
    np.testing.assert_array_equal(space.high, full.observation_space.high[[0, 2]])
    assert masked.action_space == full.action_space


def test_the_registration_matches_cartpole_v1_and_happens_once():
    env = gym.make(ENV)  # imports keras_pg.envs.partial, then makes its CartPoleNoVel-v1
    spec = env.spec
    assert spec is not None and spec.id == "CartPoleNoVel-v1" and spec.entry_point is not None
    assert isinstance(env.unwrapped, partial.CartPoleEnv)
    assert any(isinstance(e, partial.NoVelocity) for e in _wrappers(env))
    assert (spec.max_episode_steps, spec.reward_threshold) == (500, 475.0)
    env.close()
    registered = gym.spec("CartPoleNoVel-v1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.reload(partial)  # runs the module again: no second registration, no warning
        gym.make(ENV).close()
    assert gym.spec("CartPoleNoVel-v1") is registered


def _wrappers(env: gym.Env) -> list[gym.Env]:
    chain = [env]
    while isinstance(chain[-1], gym.Wrapper):
        chain.append(chain[-1].env)
    return chain


def test_no_velocity_refuses_an_env_that_is_not_cartpole():
    with pytest.raises(ValueError, match="shape"):
        partial.NoVelocity(gym.make("Pendulum-v1"))
