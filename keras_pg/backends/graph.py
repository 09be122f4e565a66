"""The graph backend (`--backend graph`): rollout, returns, advantages, the update and the
observation statistics in one compiled function per round, with an environment written in
TensorFlow ops (keras_pg/envs/graph).

Each round resets `num_envs` environments and runs each for exactly one episode (so
`episodes_per_update` equals `num_envs`); an environment whose episode has ended idles,
masked, until the longest one ends. Nothing crosses into Python until the update is done.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import tensorflow as tf

from keras_pg.algorithm.learner import Learner, UpdateResult
from keras_pg.algorithm.update import UpdateMetrics, refusing_non_finite
from keras_pg.backends import Round, RoundInterrupted
from keras_pg.config import Config
from keras_pg.envs.graph import make_graph_env
from keras_pg.envs.graph.base import GraphEnv, GraphEnvState
from keras_pg.envs.source import EnvSource
from keras_pg.seeding import TRAIN_STREAM, derived_seed

OBSERVATION_SAMPLE = 1000  # observations an iteration hands back to Python


class GraphIteration(NamedTuple):
    """What one compiled iteration returns."""

    metrics: UpdateMetrics
    episode_returns: tf.Tensor
    """float32 [N], undiscounted return of each env's episode."""
    episode_lengths: tf.Tensor
    """int32 [N]."""
    explained_variance: tf.Tensor
    """Of the value baseline on this batch (nan without one)."""
    observations: tf.Tensor
    """[n, *obs_shape], the first OBSERVATION_SAMPLE observations of the batch."""


def discounted_returns_tf(rewards: tf.Tensor, gamma: float) -> tf.Tensor:
    """G_t = r_t + gamma G_{t+1} over time, float32 [T, N] -> [T, N]. Rewards after an
    episode's end must be 0, so nothing flows back across it."""
    return tf.scan(lambda following, r: r + gamma * following, rewards,
                   initializer=tf.zeros_like(rewards[0]), reverse=True)


class GraphBackend:
    """Rounds from a TensorFlow env; each round's update happens inside the same call."""

    def __init__(self, config: Config, source: EnvSource, learner: Learner) -> None:
        self.config = config
        self.env = make_graph_env(source.name, source.kwargs, source.max_episode_steps)
        self.iteration = make_graph_iteration(self.env, learner, config.num_envs, config.gamma)
        self.actor = "graph (sampled inside the compiled iteration)"

    def collect(self, round_index: int, should_stop: Callable[[], bool],
                max_steps: int | None = None) -> Round:
        """Every env plays its one episode from the start: all are in flight at once, so
        `max_steps` cannot stop any of them."""
        if should_stop():
            raise RoundInterrupted
        seed = tf.constant([derived_seed(self.config.seed, TRAIN_STREAM, round_index), 0],
                           tf.int64)
        with refusing_non_finite():
            result = self.iteration(seed)
        return Round(result.episode_returns.numpy().astype("float64"),
                     result.episode_lengths.numpy().astype("int64"), None,
                     UpdateResult(result.metrics, float(result.explained_variance)),
                     result.observations.numpy())

    def close(self) -> None:
        """Nothing to release: the env is a set of TensorFlow ops."""


def make_graph_iteration(env: GraphEnv, learner: Learner, num_envs: int,
                         gamma: float) -> Callable[[tf.Tensor], GraphIteration]:
    """A tf.function `iteration(seed int64 [2]) -> GraphIteration` for one update."""
    model, head = learner.model, learner.head

    def rollout(seed: tf.Tensor) -> list[tf.Tensor]:
        """[T, N, ...] observations, actions, rewards and alive masks, T the number of steps
        until every env's episode has ended (at most the time limit)."""
        state, obs = env.reset(seed, num_envs)
        alive = tf.ones([num_envs], tf.bool)
        arrays = [tf.TensorArray(dtype, size=0, dynamic_size=True)
                  for dtype in (tf.float32, head.action_spec.dtype, tf.float32, tf.bool)]

        def body(t: tf.Tensor, state: GraphEnvState, obs: tf.Tensor, alive: tf.Tensor,
                 arrays: list[tf.TensorArray]
                 ) -> tuple[tf.Tensor, GraphEnvState, tf.Tensor, tf.Tensor, list[tf.TensorArray]]:
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
    def iteration(seed: tf.Tensor) -> GraphIteration:
        obs, actions, rewards, alive = rollout(seed)
        if learner.config.advantage == "gae":  # each env's column is one episode
            obs, actions, kept_rewards = (tf.boolean_mask(x, alive)
                                          for x in (obs, actions, rewards))
            weights, targets, explained = learner.gae_fn(
                obs, kept_rewards, tf.cast(tf.where(alive), tf.int32), tf.zeros([num_envs]))
        else:
            returns = discounted_returns_tf(rewards, gamma)
            obs, actions, returns = (tf.boolean_mask(x, alive) for x in (obs, actions, returns))
            weights, targets, explained = learner.advantages_fn(obs, returns, None)
        metrics = learner.update.update_fn(obs, actions, weights, targets)
        for normalizer in learner.normalizers.values():  # the one of a graph env's Box
            normalizer.update(obs)
        return GraphIteration(metrics, tf.reduce_sum(rewards, axis=0),
                              tf.reduce_sum(tf.cast(alive, tf.int32), axis=0), explained,
                              obs[:OBSERVATION_SAMPLE])

    return iteration
