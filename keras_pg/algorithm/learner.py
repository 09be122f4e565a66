"""The learner: the policy (and value) networks, their optimizers and the compiled update."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import gymnasium as gym
import keras
import numpy as np
import tensorflow as tf

from keras_pg.algorithm.advantages import advantages
from keras_pg.algorithm.batch import Batch
from keras_pg.algorithm.update import UpdateMetrics, UpdateStep
from keras_pg.config import Config
from keras_pg.policy import build_value, make_head, observation_normalizer, observation_spec
from keras_pg.run.run_dir import RunDirError


class UpdateResult(NamedTuple):
    """What one update reports."""

    metrics: UpdateMetrics
    explained_variance: float
    """Of the value baseline on the update's batch (nan without one)."""


class Learner:
    """REINFORCE on batches of complete episodes for `policy` (built by `build_policy`).

    Holds the policy, the value network of `--baseline value` (the policy's preprocessing
    and a fresh copy of its feature network), one Adam optimizer each, and the UpdateStep.
    Build it inside `seeding.initialization(seed)` so the value network's weights are seeded.
    """

    def __init__(self, config: Config, observation_space: gym.Space, action_space: gym.Space,
                 policy: keras.Model) -> None:
        self.config = config
        self.head = make_head(action_space)
        self.model = policy
        self.normalizer = observation_normalizer(policy)
        self.value = (build_value(observation_space, policy)
                      if config.baseline == "value" else None)
        self.optimizers = [keras.optimizers.Adam(config.lr)]
        if self.value is not None:
            self.optimizers.append(keras.optimizers.Adam(config.value_lr))
        self.update = UpdateStep(policy, self.head, self.optimizers[0], config.max_grad_norm,
                                 config.entropy_coef, self.value, self.optimizers[-1],
                                 config.value_epochs)
        self._values: Callable[[tf.Tensor], tf.Tensor] | None = tf.function(
            lambda obs: self.value(obs, training=False), autograph=False,
            input_signature=[observation_spec(policy)]) if self.value is not None else None
        self._advantages = tf.function(
            self.advantages_fn, autograph=False,
            input_signature=[observation_spec(policy), tf.TensorSpec([None], tf.float32)])

    def advantages_fn(self, obs: tf.Tensor, returns: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Normalized advantages [M] and explained variance, with the value network as it is
        (call before the update: the batch was collected with these weights)."""
        values = self.value(obs, training=False) if self.value is not None else None
        return advantages(returns, values, self.config.return_eps)

    def learn(self, batch: Batch) -> UpdateResult:
        """One update on `batch`. The observation statistics absorb the batch only after
        the update, so the update sees the policy exactly as it acted."""
        returns = self.bootstrapped_returns(batch) if self.config.bootstrap_truncated \
            else batch.returns
        weights, explained = self._advantages(batch.obs, returns)
        metrics = self.update(batch.obs, batch.actions, weights, returns)
        if self.normalizer is not None:
            self.normalizer.update(batch.obs)
        return UpdateResult(metrics, float(explained))

    def bootstrapped_returns(self, batch: Batch) -> np.ndarray:
        """float32 [M]: the batch's returns, those of time-limit-truncated episodes continued
        with the value network's estimate of the state they were cut off in."""
        if not batch.bootstrap_discount.any():
            return batch.returns
        assert self._values is not None  # Config: bootstrap_truncated needs baseline value
        final_values = self._values(batch.final_obs).numpy()
        return batch.returns + batch.bootstrap_discount * final_values[batch.episode]

    def state_variables(self) -> list[tuple[str, list[keras.Variable]]]:
        """Everything a resume needs, by name: weights (normalizer statistics included) and
        optimizer state."""
        named = [("model", self.model.weights)]
        if self.value is not None:
            named.append(("value", self.value.weights))
        named += [(f"optimizer{i or ''}", opt.variables) for i, opt in enumerate(self.optimizers)]
        return named

    def state_arrays(self) -> dict[str, np.ndarray]:
        """`state_variables` as named arrays, `model_0`, `optimizer_3`, ..."""
        return {f"{name}_{i}": v.numpy() for name, variables in self.state_variables()
                for i, v in enumerate(variables)}

    def assign_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Inverse of `state_arrays`; a RunDirError, before anything is assigned, when the
        arrays belong to another network."""
        pairs = [(f"{name}_{i}", v) for name, variables in self.state_variables()
                 for i, v in enumerate(variables)]
        if set(arrays) != {key for key, _ in pairs}:
            raise RunDirError(f"the checkpoint holds {len(arrays)} arrays; this config's "
                              f"networks and optimizers have {len(pairs)}")
        for key, v in pairs:
            if tuple(arrays[key].shape) != tuple(v.shape):
                raise RunDirError(f"the checkpoint's {key} has shape {arrays[key].shape}; this "
                                  f"config's network needs {tuple(v.shape)}")
        for key, v in pairs:
            v.assign(arrays[key])

