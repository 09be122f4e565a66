"""The learner: the policy (and value) networks, their optimizers and the compiled update."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import gymnasium as gym
import keras
import numpy as np
import tensorflow as tf

from keras_pg import observations
from keras_pg.algorithm.advantages import (
    advantages,
    explained_variance,
    lambda_advantages,
    normalize,
)
from keras_pg.algorithm.batch import Batch, episode_steps
from keras_pg.algorithm.update import UpdateMetrics, UpdateStep
from keras_pg.config import Config
from keras_pg.policy import build_value, make_head, observation_normalizers, observation_spec
from keras_pg.policy.recurrent import is_recurrent, over_episodes
from keras_pg.run.run_dir import RunDirError
from keras_pg.schedules import SCHEDULED, make_schedule


class UpdateResult(NamedTuple):
    """What one update reports."""

    metrics: UpdateMetrics
    explained_variance: float
    """Of the value baseline on the update's batch (nan without one)."""


class Learner:
    """REINFORCE on batches of complete episodes for `policy` (built by `build_policy`).

    Holds the policy, the value network of `--baseline value` (the policy's preprocessing
    and a fresh copy of its feature network), one Adam optimizer each, and the UpdateStep
    (`masked`: for batches that carry invalid-action masks).
    Build it inside `seeding.initialization(seed)` so the value network's weights are seeded.
    """

    def __init__(self, config: Config, observation_space: gym.Space, action_space: gym.Space,
                 policy: keras.Model, masked: bool = False) -> None:
        self.config = config
        self.head = make_head(action_space)
        self.model = policy
        self.normalizers = observation_normalizers(policy)
        self.value = (build_value(observation_space, policy)
                      if config.baseline == "value" else None)
        self.schedules = {name: make_schedule(getattr(config, name), name)
                          for name in SCHEDULED}
        self.optimizers = [keras.optimizers.Adam(self.schedules["lr"](0.0))]
        if self.value is not None:
            self.optimizers.append(keras.optimizers.Adam(config.value_lr))
        self.update = UpdateStep(policy, self.head, self.optimizers[0], config.max_grad_norm,
                                 self.schedules["entropy_coef"](0.0), self.value,
                                 self.optimizers[-1], config.value_epochs, masked)
        cells = tf.TensorSpec([None, 2], tf.int32)
        self._values: Callable[[tf.Tensor, tf.Tensor], tf.Tensor] | None = tf.function(
            lambda obs, cells: over_episodes(self.value, obs, cells), autograph=False,
            input_signature=[observation_spec(policy), cells]
        ) if self.value is not None else None
        vector = tf.TensorSpec([None], tf.float32)
        self._advantages = tf.function(
            self.advantages_fn, autograph=False,
            input_signature=[observation_spec(policy), vector, cells])
        self._gae = tf.function(
            self.gae_fn, autograph=False,
            input_signature=[observation_spec(policy), vector, cells, vector])

    def set_progress(self, progress: float) -> dict[str, float]:
        """Set the scheduled settings for training progress (env steps / max_steps) and
        return their values, {"lr": ..., "entropy_coef": ...}."""
        values = {name: float(schedule(progress)) for name, schedule in self.schedules.items()}
        self.optimizers[0].learning_rate = values["lr"]
        self.update.entropy_coef.assign(values["entropy_coef"])
        return values

    def advantages_fn(self, obs: tf.Tensor, returns: tf.Tensor,
                      cells: tf.Tensor | None) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """`advantage="mc"`: normalized advantages [M], the value targets (the returns) and
        the explained variance, with the value network as it is (call before the update:
        the batch was collected with these weights). `cells` as in `gae_fn` (None: a
        feed-forward value network)."""
        values = (over_episodes(self.value, obs, cells) if self.value is not None
                  else None)
        weights, explained = advantages(returns, values, self.config.return_eps)
        return weights, returns, explained

    def gae_fn(self, obs: tf.Tensor, rewards: tf.Tensor, cells: tf.Tensor,
               end_values: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """`advantage="gae"`: normalized advantages [M], the lambda-returns A_t + V(s_t) the
        value network fits [M], and its explained variance on them. `cells` and
        `end_values` as in `lambda_advantages` (a recurrent value network runs over the
        episodes the cells say)."""
        assert self.value is not None  # Config: advantage gae needs baseline value
        values = over_episodes(self.value, obs, cells)
        raw = lambda_advantages(rewards, values, cells, end_values, self.config.gamma,
                                self.config.gae_lambda)
        targets = raw + values
        return (normalize(raw, self.config.return_eps), targets,
                explained_variance(values, targets))

    def learn(self, batch: Batch) -> UpdateResult:
        """One update on `batch`. The observation statistics absorb the batch only after
        the update, so the update sees the policy exactly as it acted."""
        cells = batch_cells(batch)
        if self.config.advantage == "gae":
            weights, targets, explained = self._gae(batch.obs, batch.rewards, cells,
                                                    self.end_values(batch))
        else:
            returns = self.bootstrapped_returns(batch) if self.config.bootstrap_truncated \
                else batch.returns
            weights, targets, explained = self._advantages(batch.obs, returns, cells)
        metrics = self.update(batch.obs, batch.actions, weights, targets, cells,
                              batch.action_masks)
        for part, normalizer in self.normalizers.items():
            normalizer.update(batch.obs[part] if isinstance(batch.obs, dict) else batch.obs)
        return UpdateResult(metrics, float(explained))

    def end_values(self, batch: Batch) -> np.ndarray:
        """float32 [K]: the value network's estimate of the state each episode a time limit
        cut off stopped in, with `bootstrap_truncated`; 0 for the others (terminated). A
        recurrent value network reads it as one more step of the episode."""
        end = np.zeros(len(batch.episode_returns), dtype=np.float32)
        cut = np.unique(batch.episode[batch.bootstrap_discount > 0])
        if self.config.bootstrap_truncated and len(cut):
            assert self._values is not None  # Config: bootstrap_truncated needs baseline value
            final = observations.map_obs(lambda part: part[cut], batch.final_obs)
            final_cells = np.stack([batch.episode_lengths[cut], cut], axis=1).astype(np.int32)
            if self.value is not None and is_recurrent(self.value):
                final = observations.concatenate([batch.obs, final])
                final_cells = np.concatenate([batch_cells(batch), final_cells])
            end[cut] = self._values(final, final_cells).numpy()[-len(cut):]
        return end

    def bootstrapped_returns(self, batch: Batch) -> np.ndarray:
        """float32 [M]: the batch's returns, those of time-limit-truncated episodes continued
        with the value network's estimate of the state they were cut off in."""
        if not batch.bootstrap_discount.any():
            return batch.returns
        return batch.returns + batch.bootstrap_discount * self.end_values(batch)[batch.episode]

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


def batch_cells(batch: Batch) -> np.ndarray:
    """int32 [M, 2]: (step within its episode, episode) of each of the batch's transitions."""
    return np.stack([episode_steps(batch.episode), batch.episode], axis=1).astype(np.int32)
