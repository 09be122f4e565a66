"""The action distributions a policy's output parameterizes (its head).

Categorical logits [B, n] for a Discrete action space, [mean, log_std] [B, 2d] of a diagonal
Gaussian for a Box one. Everything the loop does with those parameters -- sampling,
log-probabilities, entropy, the greedy action, what the environment receives -- goes through
a head object.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal, cast

import gymnasium as gym
import numpy as np
import tensorflow as tf


@dataclass(frozen=True)
class CategoricalHead:
    """A categorical distribution over `num_actions` actions parameterized by logits [B, A]."""

    num_actions: int
    kind: ClassVar[Literal["categorical"]] = "categorical"

    @property
    def action_spec(self) -> tf.TensorSpec:
        return tf.TensorSpec([None], tf.int32, name="actions")

    @property
    def params_size(self) -> int:
        return self.num_actions

    def log_prob(self, logits: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
        """log pi(a | s): float [B] from logits [B, A] and int actions [B]."""
        log_probs = tf.nn.log_softmax(logits)
        return tf.gather(log_probs, tf.cast(actions, tf.int32), axis=1, batch_dims=1)

    def entropy(self, logits: tf.Tensor) -> tf.Tensor:
        """Entropy in nats, float [B]."""
        log_probs = tf.nn.log_softmax(logits)
        return -tf.reduce_sum(tf.exp(log_probs) * log_probs, axis=-1)

    def sample(self, logits: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """One action per row, int32 [B], with the Gumbel-max trick (XLA-compilable).

        `seed` is a stateless seed, int [2]: the same seed and logits give the same actions.
        """
        uniform = tf.random.stateless_uniform(
            tf.shape(logits), seed, minval=tf.experimental.numpy.finfo(logits.dtype).tiny,
            maxval=1.0, dtype=logits.dtype,
        )
        gumbel = -tf.math.log(-tf.math.log(uniform))
        return tf.argmax(logits + gumbel, axis=-1, output_type=tf.int32)

    def greedy(self, logits: tf.Tensor) -> tf.Tensor:
        """The most probable action, int32 [B]."""
        return tf.argmax(logits, axis=-1, output_type=tf.int32)

    def numpy_sampler(self, rng: np.random.Generator) -> NumpySampler:
        """`sample` in numpy: logits [B, A] -> int32 [B], the Gumbel-max trick with float64
        Gumbel noise drawn from `rng` a block of steps at a time (one draw, not one per
        step: a step then costs an add and an argmax)."""
        noise = _NoiseBlocks(lambda size: rng.gumbel(size=size))
        return lambda logits: (logits + noise.next(logits.shape)).argmax(axis=1).astype(
            np.int32)

    def greedy_numpy(self, logits: np.ndarray) -> np.ndarray:
        """`greedy` in numpy, int32 [B]."""
        return logits.argmax(axis=1).astype(np.int32)

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        """What the environment receives for sampled actions (the same integers)."""
        return actions

    def env_action(self, actions: tf.Tensor) -> tf.Tensor:
        """`to_env` in TensorFlow ops."""
        return actions


@dataclass(frozen=True)
class GaussianHead:
    """A diagonal Gaussian over Box actions of `action_dim` dimensions, parameterized by
    [mean, log_std] [B, 2d]. Samples are unbounded; the environment receives them clipped to
    [low, high], while the log-probability is that of the unclipped sample."""

    action_dim: int
    low: tuple[float, ...]
    high: tuple[float, ...]
    kind: ClassVar[Literal["gaussian"]] = "gaussian"

    @property
    def action_spec(self) -> tf.TensorSpec:
        return tf.TensorSpec([None, self.action_dim], tf.float32, name="actions")

    @property
    def params_size(self) -> int:
        return self.action_dim

    def split(self, params: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(mean, log_std), each float [B, d]."""
        return params[:, : self.action_dim], params[:, self.action_dim:]

    def log_prob(self, params: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
        """sum_i log N(a_i; mean_i, std_i^2): float [B] from params [B, 2d], actions [B, d]."""
        mean, log_std = self.split(params)
        z = (actions - mean) * tf.exp(-log_std)
        return -tf.reduce_sum(0.5 * z**2 + log_std + 0.5 * math.log(2 * math.pi), axis=-1)

    def entropy(self, params: tf.Tensor) -> tf.Tensor:
        """sum_i (log_std_i + 0.5 log(2 pi e)), nats, float [B]."""
        _, log_std = self.split(params)
        return tf.reduce_sum(log_std + 0.5 * math.log(2 * math.pi * math.e), axis=-1)

    def sample(self, params: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """mean + std * N(0, 1), float [B, d], unclipped; stateless in `seed` int [2]."""
        mean, log_std = self.split(params)
        noise = tf.random.stateless_normal(tf.shape(mean), seed, dtype=mean.dtype)
        return mean + tf.exp(log_std) * noise

    def greedy(self, params: tf.Tensor) -> tf.Tensor:
        """The mean, float [B, d] (clipped by `to_env`)."""
        return self.split(params)[0]

    def numpy_sampler(self, rng: np.random.Generator) -> NumpySampler:
        """`sample` in numpy: params [B, 2d] -> float32 [B, d], mean + std * N(0, 1) with
        the standard normal draws of `rng` made a block of steps at a time."""
        noise = _NoiseBlocks(lambda size: rng.standard_normal(size, dtype=np.float32))

        def sample(params: np.ndarray) -> np.ndarray:
            mean, log_std = params[:, : self.action_dim], params[:, self.action_dim:]
            return mean + np.exp(log_std) * noise.next(mean.shape)

        return sample

    def greedy_numpy(self, params: np.ndarray) -> np.ndarray:
        """`greedy` in numpy: the mean, float32 [B, d]."""
        return params[:, : self.action_dim]

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        """Actions clipped to the action space's bounds."""
        return np.clip(actions, self.low, self.high).astype(np.float32)

    def env_action(self, actions: tf.Tensor) -> tf.Tensor:
        """`to_env` in TensorFlow ops."""
        return tf.clip_by_value(actions, self.low, self.high)


Head = CategoricalHead | GaussianHead
NumpySampler = Callable[[np.ndarray], np.ndarray]
"""A head's sampling in numpy: the policy's output [B, P] -> actions [B, ...]."""
NOISE_BLOCK = 256
"""Steps of noise drawn at once by a numpy sampler."""


class _NoiseBlocks:
    """Noise of one shape per step, drawn `NOISE_BLOCK` steps at a time by `draw(size)`; a
    step of another shape starts a new block (the rest of the old one is dropped), so the
    same sequence of shapes always gets the same noise."""

    def __init__(self, draw: Callable[[tuple[int, ...]], np.ndarray]) -> None:
        self.draw, self.block, self.used = draw, np.empty((0,)), 0

    def next(self, shape: tuple[int, ...]) -> np.ndarray:
        if self.used == len(self.block) or self.block.shape[1:] != shape:
            self.block, self.used = self.draw((NOISE_BLOCK, *shape)), 0
        self.used += 1
        return self.block[self.used - 1]


def make_head(action_space: gym.Space) -> Head:
    """The distribution head for a Discrete or one-dimensional-array Box action space."""
    if isinstance(action_space, gym.spaces.Discrete):
        return CategoricalHead(int(action_space.n))
    box = cast(gym.spaces.Box, action_space)  # check_spaces admits Discrete and Box only
    return GaussianHead(int(box.shape[0]), tuple(map(float, box.low)),
                        tuple(map(float, box.high)))
