"""The REINFORCE gradient on a two-armed bandit, where the answer is known in closed form.

With observation 0 and zero hidden biases the hidden layer outputs 0, so the logits are the
output layer's bias b and pi = softmax(b). For the surrogate -mean_i A_i log pi(a_i),
d/db = -mean_i A_i (onehot(a_i) - pi). The expected policy gradient of J = E[r(a)] is
dJ/db_k = pi_k (r_k - sum_j pi_j r_j).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from gymnasium.spaces import Box, Discrete

from keras_pg.algorithm.update import NonFiniteLossError, UpdateStep, reinforce_loss
from keras_pg.policy import CategoricalHead
from tests.policies import mlp_policy

BIAS = np.array([0.3, -0.2], dtype=np.float32)


def bandit_policy():
    model = mlp_policy(Box(-np.inf, np.inf, (1,)), Discrete(2), (4,))
    model.get_layer("logits").bias.assign(BIAS)
    return model


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def test_update_step_moves_bias_by_the_reinforce_gradient():
    model = bandit_policy()
    step = UpdateStep(model, CategoricalHead(2), keras.optimizers.SGD(learning_rate=1.0))
    actions = np.array([0, 1, 1, 0, 1], dtype=np.int32)
    advantages = np.array([1.5, -0.5, 2.0, -1.0, 0.25], dtype=np.float32)
    before = {w.path: w.numpy().copy() for w in model.weights}
    step(np.zeros((5, 1), np.float32), actions, advantages)
    pi = softmax(BIAS)
    expected_grad = -np.mean(advantages[:, None] * (np.eye(2)[actions] - pi), axis=0)
    np.testing.assert_allclose(model.get_layer("logits").bias.numpy(), BIAS - expected_grad,
                               atol=1e-6)
    for w in model.weights:  # nothing else moves: the hidden layer outputs 0
        if w.path != model.get_layer("logits").bias.path:
            np.testing.assert_array_equal(w.numpy(), before[w.path])


def test_estimator_is_unbiased_for_the_expected_policy_gradient():
    rng = np.random.default_rng(0)
    pi = softmax(BIAS)
    rewards = np.array([1.0, 0.0], dtype=np.float32)
    actions = rng.choice(2, size=200_000, p=pi).astype(np.int32)
    bias = tf.Variable(BIAS)
    with tf.GradientTape() as tape:
        logits = tf.tile(bias[None], [len(actions), 1])
        loss = reinforce_loss(CategoricalHead(2), logits, actions, rewards[actions])
    estimate = -tape.gradient(loss, bias).numpy()
    exact = pi * (rewards - pi @ rewards)  # = pi0 pi1 [1, -1]
    np.testing.assert_allclose(estimate, exact, atol=4e-3)
    assert exact[0] > 0.2  # a meaningful gradient, not a trivially small one


def test_batch_size_changes_do_not_retrace():
    model = bandit_policy()
    step = UpdateStep(model, CategoricalHead(2), keras.optimizers.Adam(1e-3))
    for size in (5, 17, 100, 3):
        step(np.zeros((size, 1), np.float32), np.zeros(size, np.int32),
             np.ones(size, np.float32))
    assert step.trace_count == 1


def test_non_finite_loss_is_refused_before_the_weights_change():
    model = bandit_policy()
    step = UpdateStep(model, CategoricalHead(2), keras.optimizers.Adam(1e-1))
    before = [w.numpy().copy() for w in model.weights]
    with pytest.raises(NonFiniteLossError, match="lower --lr"):
        step(np.zeros((3, 1), np.float32), np.zeros(3, np.int32),
             np.array([1.0, np.nan, 1.0], np.float32))
    for w, old in zip(model.weights, before, strict=True):
        np.testing.assert_array_equal(w.numpy(), old)


def test_gradient_clipping_bounds_the_step():
    model = bandit_policy()
    step = UpdateStep(model, CategoricalHead(2), keras.optimizers.SGD(learning_rate=1.0),
                      max_grad_norm=0.01)
    metrics = step(np.zeros((2, 1), np.float32), np.array([0, 1], np.int32),
                   np.array([10.0, -10.0], np.float32))
    moved = model.get_layer("logits").bias.numpy() - BIAS
    assert float(metrics.grad_norm) > 1.0
    np.testing.assert_allclose(np.linalg.norm(moved), 0.01, rtol=1e-5)


def test_entropy_metric_is_the_distribution_entropy():
    model = bandit_policy()
    step = UpdateStep(model, CategoricalHead(2), keras.optimizers.SGD(learning_rate=0.0))
    metrics = step(np.zeros((2, 1), np.float32), np.array([0, 1], np.int32),
                   np.ones(2, np.float32))
    pi = softmax(BIAS)
    np.testing.assert_allclose(float(metrics.entropy), -(pi * np.log(pi)).sum(), rtol=1e-6)
