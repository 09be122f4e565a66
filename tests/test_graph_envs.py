"""The TensorFlow environments against gymnasium: same state and action, same transition."""

import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf

from keras_pg.algorithm.returns import discounted_returns
from keras_pg.backends.graph import discounted_returns_tf
from keras_pg.config import ConfigError
from keras_pg.envs.graph import GRAPH_ENVS, make_graph_env
from keras_pg.envs.graph.base import GraphEnvState


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
        GraphEnvState(tf.constant(states), tf.zeros(n, tf.int32)), tf.constant(actions))
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
    with pytest.raises(ConfigError, match="--backend graph has no implementation of LunarLa"):
        make_graph_env("LunarLander-v3")
    assert set(GRAPH_ENVS) == {"CartPole-v1", "Acrobot-v1", "MountainCar-v0", "Pendulum-v1"}


# Per env: a sampler of float64 physics states as gymnasium stores them (ranges reaching the
# termination regions), and the action sampler.
STATE_SAMPLERS = {
    "CartPole-v1": lambda rng, n: rng.uniform([-2.45, -3, -0.22, -3], [2.45, 3, 0.22, 3],
                                              (n, 4)),
    "Acrobot-v1": lambda rng, n: rng.uniform([-np.pi, -np.pi, -4 * np.pi, -9 * np.pi],
                                             [np.pi, np.pi, 4 * np.pi, 9 * np.pi], (n, 4)),
    "MountainCar-v0": lambda rng, n: rng.uniform([-1.2, -0.07], [0.6, 0.07], (n, 2)),
    "Pendulum-v1": lambda rng, n: rng.uniform([-3 * np.pi, -8.0], [3 * np.pi, 8.0], (n, 2)),
}


def random_actions(env, rng, n):
    if isinstance(env.action_space, gym.spaces.Discrete):
        return rng.integers(0, env.action_space.n, n)
    return rng.uniform(-3.0, 3.0, (n, 1)).astype(np.float32)  # beyond the bounds: clipped


@pytest.mark.parametrize("env_id", sorted(STATE_SAMPLERS))
def test_transitions_equal_gymnasium(env_id):
    env, ref = make_graph_env(env_id), gym.make(env_id).unwrapped
    ref.reset(seed=0)
    rng = np.random.default_rng(1)
    n = 3000
    states, actions = STATE_SAMPLERS[env_id](rng, n), random_actions(env, rng, n)
    if env_id == "MountainCar-v0":
        states[:300, 0] = -1.2  # the left wall, where the velocity is zeroed
        states[:300, 1] = -np.abs(states[:300, 1])
    _, obs, reward, terminated, _ = env.step(
        GraphEnvState(tf.constant(states), tf.zeros(n, tf.int32)), tf.constant(actions))
    ref_obs, ref_reward, ref_terminated = [], [], []
    for state, action in zip(states, actions, strict=True):
        ref.state = state.copy()
        ref.steps_beyond_terminated = None  # CartPole: each transition is a fresh episode's
        o, r, term, _, _ = ref.step(action if action.ndim else int(action))
        ref_obs.append(o)
        ref_reward.append(r)
        ref_terminated.append(term)
    np.testing.assert_allclose(obs.numpy(), np.stack(ref_obs), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(reward.numpy(), np.array(ref_reward, np.float64), rtol=1e-6,
                               atol=1e-5)
    np.testing.assert_array_equal(terminated.numpy(), ref_terminated)
    if env_id != "Pendulum-v1":  # Pendulum never terminates
        assert 0 < np.sum(ref_terminated) < n


@pytest.mark.parametrize("env_id", sorted(STATE_SAMPLERS))
def test_truncation_at_the_time_limit_as_gymnasium(env_id):
    env = make_graph_env(env_id)
    limit = gym.spec(env_id).max_episode_steps
    assert env.max_episode_steps == limit
    assert env.observation_space == gym.make(env_id).observation_space
    assert env.action_space == gym.make(env_id).action_space
    state, _ = env.reset(tf.constant([0, 1], tf.int64), 3)
    state = GraphEnvState(state.physics, tf.constant([limit - 2, limit - 1, 0], tf.int32))
    actions = tf.constant(random_actions(env, np.random.default_rng(0), 3))
    _, _, _, _, truncated = env.step(state, actions)
    np.testing.assert_array_equal(truncated.numpy(), [False, True, False])


@pytest.mark.parametrize("env_id", sorted(STATE_SAMPLERS))
def test_resets_match_gymnasium_ranges(env_id):
    env = make_graph_env(env_id)
    _, obs = env.reset(tf.constant([5, 6], tf.int64), 2000)
    ref = gym.make(env_id)
    ref_obs = np.stack([ref.reset(seed=i)[0] for i in range(300)])
    np.testing.assert_allclose(obs.numpy().min(axis=0), ref_obs.min(axis=0), atol=0.05)
    np.testing.assert_allclose(obs.numpy().max(axis=0), ref_obs.max(axis=0), atol=0.05)
