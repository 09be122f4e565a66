"""The action distributions a policy's output parameterizes (its head).

    Discrete(n)            categorical        logits [B, n]           action int32 [B]
    Box(d,)                gaussian           [mean, log_std] [B, 2d] action float32 [B, d]
    MultiDiscrete(nvec)    multi_categorical  logits [B, sum(nvec)]   action int32 [B, k]
    MultiBinary(n)         bernoulli          logits [B, n]           action int32 [B, n]

A MultiDiscrete action is k independent categoricals, one per branch, whose logits are the
consecutive slices of sizes nvec; a MultiBinary one is n independent Bernoullis. Their
log-probabilities and entropies are the sums over branches (bits). Everything the loop does
with the parameters -- sampling, log-probabilities, entropy, the greedy action, what the
environment receives -- goes through a head object. A `maskable` head's logits can be put
under an invalid-action mask first (`masked_logits`): the same methods then give the
distribution over the legal actions.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal, cast

import gymnasium as gym
import numpy as np
import tensorflow as tf


def gumbel_noise(logits: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Standard Gumbel draws of the logits' shape and dtype, -log(-log(U)) with U uniform in
    (0, 1): argmax(logits + noise) samples the softmax. Stateless in `seed` int [2]."""
    uniform = tf.random.stateless_uniform(
        tf.shape(logits), seed, minval=tf.experimental.numpy.finfo(logits.dtype).tiny,
        maxval=1.0, dtype=logits.dtype,
    )
    return -tf.math.log(-tf.math.log(uniform))


def masked_logits(logits: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """logits [B, P] with the entries where `mask` [B, P] (bool, or 0/1) is false replaced by
    the dtype's lowest finite value: their softmax probability is exactly 0, no sample or
    argmax picks them (while a row has a legal entry), and no gradient reaches them -- all
    finite, never an inf or a NaN. An invalid-action mask, 1 where an action is legal."""
    lowest = tf.constant(np.finfo(logits.dtype.as_numpy_dtype).min, logits.dtype)
    return tf.where(tf.cast(mask, tf.bool), logits, lowest)


def masked_logits_numpy(logits: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`masked_logits` in numpy."""
    return np.where(mask, logits, np.finfo(logits.dtype).min)


def _entropy(log_probs: tf.Tensor) -> tf.Tensor:
    """-sum p log p over the last axis from log-probabilities, nats: a masked action (p = 0,
    log p the lowest finite value) adds exactly 0 to it and to its gradient."""
    return -tf.reduce_sum(tf.math.multiply_no_nan(log_probs, tf.exp(log_probs)), axis=-1)


@dataclass(frozen=True)
class CategoricalHead:
    """A categorical distribution over `num_actions` actions parameterized by logits [B, A]."""

    num_actions: int
    kind: ClassVar[Literal["categorical"]] = "categorical"
    maskable: ClassVar[bool] = True
    """Whether an invalid-action mask [B, params_size] applies (`masked_logits`)."""

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

    def probs(self, logits: tf.Tensor) -> tf.Tensor:
        """The action probabilities, float [B, A]."""
        return tf.nn.softmax(logits, axis=-1)

    def entropy(self, logits: tf.Tensor) -> tf.Tensor:
        """Entropy in nats, float [B] (over the legal actions of masked logits)."""
        return _entropy(tf.nn.log_softmax(logits))

    def sample(self, logits: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """One action per row, int32 [B], with the Gumbel-max trick (XLA-compilable).

        `seed` is a stateless seed, int [2]: the same seed and logits give the same actions.
        """
        return tf.argmax(logits + gumbel_noise(logits, seed), axis=-1, output_type=tf.int32)

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
    maskable: ClassVar[bool] = False

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


@dataclass(frozen=True)
class MultiCategoricalHead:
    """Independent categoricals, one per branch of sizes `nvec` (a MultiDiscrete space),
    parameterized by the branches' logits side by side, [B, sum(nvec)]."""

    nvec: tuple[int, ...]
    kind: ClassVar[Literal["multi_categorical"]] = "multi_categorical"
    maskable: ClassVar[bool] = True

    @property
    def action_spec(self) -> tf.TensorSpec:
        return tf.TensorSpec([None, len(self.nvec)], tf.int32, name="actions")

    @property
    def params_size(self) -> int:
        return sum(self.nvec)

    def _branches(self, logits: tf.Tensor) -> list[tf.Tensor]:
        """Each branch's log-probabilities, [B, nvec[i]]."""
        return [tf.nn.log_softmax(part) for part in tf.split(logits, list(self.nvec), axis=-1)]

    def probs(self, logits: tf.Tensor) -> tf.Tensor:
        """Each branch's probabilities side by side, float [B, sum(nvec)]."""
        return tf.concat([tf.nn.softmax(part, axis=-1)
                          for part in tf.split(logits, list(self.nvec), axis=-1)], axis=-1)

    def log_prob(self, logits: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
        """sum_i log pi_i(a_i | s): float [B] from logits [B, sum(nvec)], actions [B, k]."""
        actions = tf.cast(actions, tf.int32)
        return tf.add_n([tf.gather(log_probs, actions[:, i], axis=1, batch_dims=1)
                         for i, log_probs in enumerate(self._branches(logits))])

    def entropy(self, logits: tf.Tensor) -> tf.Tensor:
        """The sum of the branches' entropies, nats, float [B]."""
        return tf.add_n([_entropy(log_probs) for log_probs in self._branches(logits)])

    def sample(self, logits: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """int32 [B, k]: the Gumbel-max trick per branch, stateless in `seed` int [2]."""
        return self.greedy(logits + gumbel_noise(logits, seed))

    def greedy(self, logits: tf.Tensor) -> tf.Tensor:
        """Each branch's most probable action, int32 [B, k]."""
        return tf.stack([tf.argmax(part, axis=-1, output_type=tf.int32)
                         for part in tf.split(logits, list(self.nvec), axis=-1)], axis=1)

    def numpy_sampler(self, rng: np.random.Generator) -> NumpySampler:
        """`sample` in numpy: logits [B, sum(nvec)] -> int32 [B, k], Gumbel noise drawn a
        block of steps at a time."""
        noise = _NoiseBlocks(lambda size: rng.gumbel(size=size))
        return lambda logits: self.greedy_numpy(logits + noise.next(logits.shape))

    def greedy_numpy(self, logits: np.ndarray) -> np.ndarray:
        """`greedy` in numpy, int32 [B, k]."""
        bounds = np.cumsum((0, *self.nvec))
        return np.stack([logits[:, a:b].argmax(axis=1) for a, b in itertools.pairwise(bounds)],
                        axis=1).astype(np.int32)

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        """What the environment receives: the same integers, int64 (MultiDiscrete's dtype)."""
        return actions.astype(np.int64)

    def env_action(self, actions: tf.Tensor) -> tf.Tensor:
        """`to_env` in TensorFlow ops."""
        return tf.cast(actions, tf.int64)


@dataclass(frozen=True)
class BernoulliHead:
    """Independent Bernoullis, one per bit of a MultiBinary(n) space, parameterized by their
    logits [B, n]: P(bit i = 1) = sigmoid(logit_i)."""

    num_bits: int
    kind: ClassVar[Literal["bernoulli"]] = "bernoulli"
    maskable: ClassVar[bool] = False

    @property
    def action_spec(self) -> tf.TensorSpec:
        return tf.TensorSpec([None, self.num_bits], tf.int32, name="actions")

    @property
    def params_size(self) -> int:
        return self.num_bits

    def probs(self, logits: tf.Tensor) -> tf.Tensor:
        """Each bit's P(1) = sigmoid(l_i), float [B, n]."""
        return tf.sigmoid(logits)

    def log_prob(self, logits: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
        """sum_i a_i l_i - softplus(l_i) (= log sigmoid(+-l_i)): float [B] from logits
        [B, n] and actions [B, n] of 0 and 1."""
        bits = tf.cast(actions, logits.dtype)
        return tf.reduce_sum(bits * logits - tf.nn.softplus(logits), axis=-1)

    def entropy(self, logits: tf.Tensor) -> tf.Tensor:
        """sum_i softplus(l_i) - l_i sigmoid(l_i), nats, float [B]."""
        return tf.reduce_sum(tf.nn.softplus(logits) - logits * tf.sigmoid(logits), axis=-1)

    def sample(self, logits: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """int32 [B, n]: bit i is 1 where a uniform draw falls below sigmoid(l_i); stateless
        in `seed` int [2]."""
        uniform = tf.random.stateless_uniform(tf.shape(logits), seed, dtype=logits.dtype)
        return tf.cast(uniform < tf.sigmoid(logits), tf.int32)

    def greedy(self, logits: tf.Tensor) -> tf.Tensor:
        """1 where a bit is more likely 1 than 0 (logit > 0), int32 [B, n]."""
        return tf.cast(logits > 0, tf.int32)

    def numpy_sampler(self, rng: np.random.Generator) -> NumpySampler:
        """`sample` in numpy: logits [B, n] -> int32 [B, n], uniform draws a block of steps
        at a time."""
        noise = _NoiseBlocks(lambda size: rng.random(size, dtype=np.float32))

        def sample(logits: np.ndarray) -> np.ndarray:
            probs = 0.5 * (1.0 + np.tanh(0.5 * logits))  # sigmoid, without overflow
            return (noise.next(logits.shape) < probs).astype(np.int32)

        return sample

    def greedy_numpy(self, logits: np.ndarray) -> np.ndarray:
        """`greedy` in numpy, int32 [B, n]."""
        return (logits > 0).astype(np.int32)

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        """What the environment receives: the bits as int8 (MultiBinary's dtype)."""
        return actions.astype(np.int8)

    def env_action(self, actions: tf.Tensor) -> tf.Tensor:
        """`to_env` in TensorFlow ops."""
        return tf.cast(actions, tf.int8)


Head = CategoricalHead | GaussianHead | MultiCategoricalHead | BernoulliHead
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
    """The distribution head for a Discrete, one-dimensional Box, MultiDiscrete or
    MultiBinary action space (`check_spaces` admits no other)."""
    if isinstance(action_space, gym.spaces.Discrete):
        return CategoricalHead(int(action_space.n))
    if isinstance(action_space, gym.spaces.MultiDiscrete):
        return MultiCategoricalHead(tuple(int(n) for n in action_space.nvec))
    if isinstance(action_space, gym.spaces.MultiBinary):
        return BernoulliHead(int(np.prod(action_space.shape)))
    box = cast(gym.spaces.Box, action_space)
    return GaussianHead(int(box.shape[0]), tuple(map(float, box.low)),
                        tuple(map(float, box.high)))
