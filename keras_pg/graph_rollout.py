"""The `--backend graph` iteration: rollout, returns, normalization and the update in one
compiled function, with an environment written in TensorFlow ops (keras_pg/graph_envs).

Each iteration resets `num_envs` environments and runs each for exactly one episode (so
`episodes_per_update` equals `num_envs`); an environment whose episode has ended idles,
masked, until the longest one ends. Nothing crosses into Python until the update is done.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from keras_pg.layers import RunningNormalization
from keras_pg.policy import Head
from keras_pg.update import UpdateMetrics, UpdateStep


class GraphIteration(NamedTuple):
    """What one compiled iteration returns."""

    metrics: UpdateMetrics
    episode_returns: tf.Tensor
    """float32 [N], undiscounted return of each env's episode."""
    episode_lengths: tf.Tensor
    """int32 [N]."""
    explained_variance: tf.Tensor
    """Of the value baseline on this batch (nan without one)."""


def discounted_returns_tf(rewards: tf.Tensor, gamma: float) -> tf.Tensor:
    """G_t = r_t + gamma G_{t+1} over time, float32 [T, N] -> [T, N]. Rewards after an
    episode's end must be 0, so nothing flows back across it."""
    return tf.scan(lambda following, r: r + gamma * following, rewards,
                   initializer=tf.zeros_like(rewards[0]), reverse=True)


def make_graph_iteration(env, head: Head, update: UpdateStep, num_envs: int, gamma: float,
                         return_eps: float, normalizer: RunningNormalization | None):
    """A tf.function `iteration(seed int64 [2]) -> GraphIteration` for one update."""
    model, value = update.model, update.value

    def rollout(seed):
        """[T, N, ...] observations, actions, rewards and alive masks, T the number of steps
        until every env's episode has ended (at most the time limit)."""
        state, obs = env.reset(seed, num_envs)
        alive = tf.ones([num_envs], tf.bool)
        arrays = [tf.TensorArray(dtype, size=0, dynamic_size=True)
                  for dtype in (tf.float32, head.action_spec.dtype, tf.float32, tf.bool)]

        def body(t, state, obs, alive, arrays):
            step_seed = tf.stack([seed[0], seed[1] * 65536 + tf.cast(t, tf.int64)])
            action = head.sample(model(obs, training=False), step_seed)
            state, next_obs, reward, terminated, truncated = env.step(
                state, head.env_action(action))
            reward = tf.where(alive, reward, 0.0)
            arrays = [a.write(t, v) for a, v in zip(arrays, (obs, action, reward, alive),
                                                    strict=True)]
            return t + 1, state, next_obs, alive & ~(terminated | truncated), arrays

        _, _, _, _, arrays = tf.while_loop(
            lambda t, state, obs, alive, arrays: tf.reduce_any(alive), body,
            [tf.constant(0), state, obs, alive, arrays],
            maximum_iterations=env.max_episode_steps)
        return [a.stack() for a in arrays]

    # No autograph: the loop is an explicit tf.while_loop, and converting the Python code
    # took most of the first iteration's time (measured: ~80% of tracing).
    @tf.function(input_signature=[tf.TensorSpec([2], tf.int64)], autograph=False)
    def iteration(seed):
        obs, actions, rewards, alive = rollout(seed)
        returns = discounted_returns_tf(rewards, gamma)
        obs, actions, returns = (tf.boolean_mask(x, alive) for x in (obs, actions, returns))
        explained = tf.constant(float("nan"))
        advantages = returns
        if value is not None:
            values = value(obs, training=False)
            advantages = returns - values
            explained = 1.0 - tf.math.reduce_variance(advantages) / tf.math.reduce_variance(
                returns)
        mean, variance = tf.nn.moments(advantages, axes=[0])
        advantages = (advantages - mean) / (tf.sqrt(variance) + return_eps)
        metrics = update.update_fn(obs, actions, advantages, returns)
        if normalizer is not None:
            normalizer.update(obs)
        return GraphIteration(metrics, tf.reduce_sum(rewards, axis=0),
                              tf.reduce_sum(tf.cast(alive, tf.int32), axis=0), explained)

    return iteration
