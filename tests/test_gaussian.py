"""The Gaussian head for Box actions, checked against closed forms."""

import math

import numpy as np
import tensorflow as tf
from gymnasium.spaces import Box

from keras_pg.algorithm.update import reinforce_loss
from keras_pg.backends.rollout import collect_episodes
from keras_pg.policy import GaussianHead, make_head
from tests.policies import mlp_policy

HEAD = GaussianHead(2, (-1.0, -2.0), (1.0, 2.0))


def normal_log_pdf(x, mean, std):
    return -0.5 * ((x - mean) / std) ** 2 - math.log(std) - 0.5 * math.log(2 * math.pi)


def test_log_prob_and_entropy_match_the_closed_form():
    mean, log_std = np.array([[0.3, -1.0]]), np.array([[-0.5, 0.2]])
    params = tf.constant(np.concatenate([mean, log_std], axis=1), tf.float32)
    actions = tf.constant([[0.9, 1.5]], tf.float32)
    std = np.exp(log_std)
    expected = sum(normal_log_pdf(a, m, s) for a, m, s in
                   zip([0.9, 1.5], mean[0], std[0], strict=True))
    np.testing.assert_allclose(HEAD.log_prob(params, actions).numpy(), [expected], rtol=1e-5)
    expected_entropy = float(np.sum(0.5 * np.log(2 * np.pi * np.e * std**2)))
    np.testing.assert_allclose(HEAD.entropy(params).numpy(), [expected_entropy], rtol=1e-5)


def test_samples_follow_mean_and_std():
    params = tf.constant([[0.5, -0.25, math.log(0.3), math.log(2.0)]] * 50_000, tf.float32)
    samples = HEAD.sample(params, tf.constant([1, 2], tf.int64)).numpy()
    np.testing.assert_allclose(samples.mean(axis=0), [0.5, -0.25], atol=0.03)
    np.testing.assert_allclose(samples.std(axis=0), [0.3, 2.0], rtol=0.02)


def test_clipping_reaches_the_env_but_not_the_loss():
    head = make_head(Box(-1.0, 1.0, (1,), np.float32))
    np.testing.assert_array_equal(head.to_env(np.array([[3.0], [-5.0], [0.5]])),
                                  [[1.0], [-1.0], [0.5]])

    class RecordingEnv:
        """A one-env vector env that records what it is sent; episodes last 2 steps."""

        num_envs = 1

        def __init__(self):
            self.sent = []

        def reset(self, seed=None):
            self.t = 0
            return np.zeros((1, 3), np.float32), {}

        def step(self, action):
            self.sent.append(np.array(action))
            self.t += 1
            done = np.array([self.t % 3 == 2])
            return np.zeros((1, 3), np.float32), np.ones(1), done, np.zeros(1, bool), {}

    env = RecordingEnv()
    batch = collect_episodes(env, lambda obs, *_: np.array([[3.0]], np.float32), 1, 1.0,
                             to_env=head.to_env)
    assert [a.tolist() for a in env.sent] == [[[1.0]], [[1.0]]]  # the env saw clipped
    np.testing.assert_array_equal(batch.actions, [[3.0], [3.0]])  # the batch keeps 3.0
    params = tf.constant([[0.0, 0.0]] * 2, tf.float32)
    loss = reinforce_loss(head, params, tf.constant(batch.actions), tf.ones(2))
    np.testing.assert_allclose(float(loss), -normal_log_pdf(3.0, 0.0, 1.0), rtol=1e-5)


def test_gaussian_policy_outputs_mean_and_log_std():
    model = mlp_policy(Box(-1, 1, (5,)), Box(-2.0, 2.0, (3,), np.float32), (8,),
                         initial_log_std=-0.7)
    out = model(np.zeros((4, 5), np.float32)).numpy()
    assert out.shape == (4, 6)
    np.testing.assert_allclose(out[:, 3:], -0.7)
    assert any(w.name == "log_std" and w.trainable for w in model.weights)
