"""The TensorFlow environments against gymnasium: same state and action, same transition."""

import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf

from keras_pg.config import ConfigError
from keras_pg.graph_envs import GRAPH_ENVS, make_graph_env
from keras_pg.graph_envs.cartpole import CartPoleState
from keras_pg.graph_rollout import discounted_returns_tf
from keras_pg.returns import discounted_returns


def reference_step(ref, state, action):
    ref.state = np.array(state, dtype=np.float64)
    ref.steps_beyond_terminated = None
    obs, reward, terminated, _, _ = ref.step(int(action))
    return obs, reward, terminated


def test_cartpole_transitions_equal_gymnasium_including_terminations():
    env, ref = make_graph_env("CartPole-v1"), gym.make("CartPole-v1").unwrapped
    rng = np.random.default_rng(0)
    n = 4000
    # States around the termination thresholds (|x| 2.4, |theta| 0.2094) as well as inside.
    states = rng.uniform([-2.45, -3, -0.22, -3], [2.45, 3, 0.22, 3], size=(n, 4))
    actions = rng.integers(0, 2, n)
    _, obs, reward, terminated, truncated = env.step(
        CartPoleState(tf.constant(states), tf.zeros(n, tf.int32)), tf.constant(actions))
    expected = [reference_step(ref, s, a) for s, a in zip(states, actions, strict=True)]
    np.testing.assert_array_equal(obs.numpy(), np.stack([e[0] for e in expected]))
    np.testing.assert_array_equal(reward.numpy(), [e[1] for e in expected])
    np.testing.assert_array_equal(terminated.numpy(), [e[2] for e in expected])
    assert 300 < terminated.numpy().sum() < n - 300  # both outcomes well represented
    assert not truncated.numpy().any()


def test_cartpole_trajectories_equal_gymnasium_up_to_truncation():
    env = make_graph_env("CartPole-v1")
    ref = gym.make("CartPole-v1")
    state, obs = env.reset(tf.constant([3, 4], tf.int64), 1)
    ref.reset(seed=0)
    ref.unwrapped.state = state.physics.numpy()[0].copy()
    rng = np.random.default_rng(1)
    steps = 0
    while True:
        # A balancing controller keeps the pole up until the 500-step time limit.
        action = int(obs.numpy()[0, 2] + 0.5 * obs.numpy()[0, 3] > 0)
        if rng.random() < 0.05:
            action = 1 - action
        state, obs, reward, terminated, truncated = env.step(state, tf.constant([action]))
        ref_obs, ref_reward, ref_term, ref_trunc, _ = ref.step(action)
        steps += 1
        np.testing.assert_array_equal(obs.numpy()[0], ref_obs)
        assert float(reward[0]) == ref_reward
        assert (bool(terminated[0]), bool(truncated[0])) == (ref_term, ref_trunc)
        if ref_term or ref_trunc:
            break
    assert steps == 500 and ref_trunc  # the edge: truncation exactly at the time limit


def test_reset_is_stateless_and_in_range():
    env = make_graph_env("CartPole-v1")
    a = env.reset(tf.constant([1, 2], tf.int64), 256)[1].numpy()
    b = env.reset(tf.constant([1, 2], tf.int64), 256)[1].numpy()
    c = env.reset(tf.constant([1, 3], tf.int64), 256)[1].numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.abs(a).max() <= 0.05
    assert env.observation_space == gym.make("CartPole-v1").observation_space
    assert env.action_space == gym.make("CartPole-v1").action_space


def test_in_graph_returns_equal_the_numpy_reference():
    rng = np.random.default_rng(0)
    alive = np.ones((30, 5), bool)
    for i, end in enumerate([3, 30, 17, 1, 29]):
        alive[end:, i] = False
    rewards = np.where(alive, rng.normal(size=(30, 5)), 0.0).astype(np.float32)
    dones = alive & ~np.vstack([alive[1:], np.zeros((1, 5), bool)])
    expected = discounted_returns(rewards, dones, 0.9)
    got = discounted_returns_tf(tf.constant(rewards), 0.9).numpy()
    np.testing.assert_allclose(got[alive], expected[alive], rtol=1e-5, atol=1e-6)


def test_unimplemented_env_is_a_clear_error():
    with pytest.raises(ConfigError, match="--backend graph has no implementation of Acrobot"):
        make_graph_env("Acrobot-v1")
    assert "CartPole-v1" in GRAPH_ENVS
