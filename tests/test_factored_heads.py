"""The MultiDiscrete and MultiBinary heads, checked against hand-computed values, and the
small envs of tests/structured_envs.py solved with them."""

import math

import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf

import keras_pg
from keras_pg.algorithm.update import reinforce_loss
from keras_pg.policy import make_head
from keras_pg.policy.heads import BernoulliHead, MultiCategoricalHead

DIALS = MultiCategoricalHead((2, 3))
SWITCHES = BernoulliHead(2)


def test_multi_categorical_log_prob_and_entropy_are_sums_over_branches():
    # p = [1/4, 3/4] and [1/4, 1/4, 1/2]
    logits = tf.constant([[0.0, math.log(3.0), 0.0, 0.0, math.log(2.0)]])
    actions = tf.constant([[1, 2]])
    np.testing.assert_allclose(DIALS.log_prob(logits, actions).numpy(),
                               [math.log(0.75) + math.log(0.5)], rtol=1e-6)
    branch0 = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    branch1 = -(2 * 0.25 * math.log(0.25) + 0.5 * math.log(0.5))
    np.testing.assert_allclose(DIALS.entropy(logits).numpy(), [branch0 + branch1], rtol=1e-6)
    np.testing.assert_array_equal(DIALS.greedy(logits).numpy(), [[1, 2]])
    np.testing.assert_array_equal(DIALS.greedy_numpy(logits.numpy()), [[1, 2]])


def test_bernoulli_log_prob_and_entropy_match_the_closed_form():
    logits = tf.constant([[math.log(3.0), -math.log(4.0)]])  # P(1) = 3/4 and 1/5
    actions = tf.constant([[1, 1]])
    np.testing.assert_allclose(SWITCHES.log_prob(logits, actions).numpy(),
                               [math.log(0.75) + math.log(0.2)], rtol=1e-6)
    np.testing.assert_allclose(SWITCHES.log_prob(logits, tf.constant([[0, 0]])).numpy(),
                               [math.log(0.25) + math.log(0.8)], rtol=1e-6)

    def h(p):
        return -(p * math.log(p) + (1 - p) * math.log(1 - p))

    np.testing.assert_allclose(SWITCHES.entropy(logits).numpy(), [h(0.75) + h(0.2)], rtol=1e-6)
    np.testing.assert_array_equal(SWITCHES.greedy(logits).numpy(), [[1, 0]])
    np.testing.assert_array_equal(SWITCHES.greedy_numpy(logits.numpy()), [[1, 0]])


@pytest.mark.parametrize("head, params", [
    (DIALS, [0.0, math.log(3.0), 0.0, 0.0, math.log(2.0)]),
    (SWITCHES, [math.log(3.0), -math.log(4.0)]),
])
def test_tensorflow_and_numpy_samples_follow_the_distribution(head, params):
    logits = np.array([params] * 40_000, np.float32)
    tf_samples = head.sample(tf.constant(logits), tf.constant([3, 4], tf.int64)).numpy()
    np_samples = head.numpy_sampler(np.random.default_rng(0))(logits)
    for samples in (tf_samples, np_samples):
        assert samples.dtype == np.int32 and samples.shape == (len(logits), 2)
        if head is SWITCHES:
            np.testing.assert_allclose(samples.mean(axis=0), [0.75, 0.2], atol=0.01)
        else:
            np.testing.assert_allclose(np.bincount(samples[:, 0]) / len(samples), [0.25, 0.75],
                                       atol=0.01)
            np.testing.assert_allclose(np.bincount(samples[:, 1]) / len(samples),
                                       [0.25, 0.25, 0.5], atol=0.01)


@pytest.mark.parametrize("head", [DIALS, SWITCHES])
def test_the_estimator_is_the_score_function_of_the_summed_log_prob(head):
    """d/dlogits of -mean(log pi(a) A) for one row is -(onehot(a) - p) A per branch (bit)."""
    logits = tf.Variable([[0.2, -0.1, 0.5, 0.0, -0.3][: head.params_size]])
    actions = tf.constant([[1, 2] if head is DIALS else [1, 0]])
    with tf.GradientTape() as tape:
        loss = reinforce_loss(head, logits, actions, tf.constant([2.0]))
    grad = tape.gradient(loss, logits).numpy()[0]
    values = logits.numpy()[0]
    if head is DIALS:
        p0, p1 = tf.nn.softmax(values[:2]).numpy(), tf.nn.softmax(values[2:]).numpy()
        expected = -2.0 * np.concatenate([np.eye(2)[1] - p0, np.eye(3)[2] - p1])
    else:
        expected = -2.0 * (np.array([1, 0]) - 1 / (1 + np.exp(-values)))
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-7)


def test_make_head_and_the_env_receive_the_spaces_dtypes():
    dials = make_head(gym.spaces.MultiDiscrete([3, 4]))
    switches = make_head(gym.spaces.MultiBinary(5))
    assert dials == MultiCategoricalHead((3, 4)) and switches == BernoulliHead(5)
    assert dials.to_env(np.array([[2, 3]], np.int32)).dtype == np.int64
    assert switches.to_env(np.array([[1, 0, 1, 0, 1]], np.int32)).dtype == np.int8


@pytest.mark.parametrize("space, problem", [
    (gym.spaces.MultiDiscrete([3, 2], start=[1, 0]), "must start at 0"),
    (gym.spaces.MultiDiscrete([[3, 2], [2, 2]]), "must be one-dimensional"),
    (gym.spaces.MultiBinary((2, 2)), "must be one-dimensional"),
    (gym.spaces.Text(5), "MultiBinary actions$"),
])
def test_unsupported_action_spaces_are_one_line_errors(space, problem):
    from keras_pg.config import ConfigError
    from keras_pg.envs import check_spaces

    with pytest.raises(ConfigError, match=problem) as info:
        check_spaces("Env-v0", gym.spaces.Box(-1, 1, (2,)), space)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("env, best", [("Switches-v0", 4.0), ("Dials-v0", 4.0)])
def test_factored_actions_learn_in_seconds(env, best):
    agent = keras_pg.REINFORCE(f"tests.structured_envs:{env}", seed=0, num_envs=8,
                               episodes_per_update=16, max_steps=20_000, preset="none", lr=0.01)
    random_return = agent.evaluate(50)["mean_return"]
    agent.learn()
    assert agent.evaluate(50)["mean_return"] >= 0.9 * best > random_return + 1.0
    greedy = agent.predict(np.zeros((3, *agent.observation_space.shape), np.float32))
    assert greedy.dtype == np.int64 and greedy.shape == (3, agent.action_space.shape[0])
