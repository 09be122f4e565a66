"""The policy network and its action distributions.

The Keras model maps observations to the parameters of an action distribution: categorical
logits [B, n] for a Discrete action space, [mean, log_std] [B, 2d] of a diagonal Gaussian for
a Box one. It is built from three parts: the preprocessing of the observation (one-hot,
image scaling, running normalization), a feature network (`networks.py`: built in or the
user's own) and the head's output layer. Everything the loop does with those parameters --
sampling, log-probabilities, entropy, the greedy action, what the environment receives --
goes through a head object.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import keras
import numpy as np
import tensorflow as tf

from keras_pg.errors import first_line
from keras_pg.layers import OneHot, RunningNormalization, StateIndependentLogStd
from keras_pg.networks import fresh_copy
from keras_pg.run_dir import RunDirError
from keras_pg.spaces import is_image_space

POLICY_NAME = "keras_pg_policy"
VALUE_NAME = "keras_pg_value"


@dataclass(frozen=True)
class CategoricalHead:
    """A categorical distribution over `num_actions` actions parameterized by logits [B, A]."""

    num_actions: int
    kind = "categorical"

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
    kind = "gaussian"

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

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        """Actions clipped to the action space's bounds."""
        return np.clip(actions, self.low, self.high).astype(np.float32)

    def env_action(self, actions: tf.Tensor) -> tf.Tensor:
        """`to_env` in TensorFlow ops."""
        return tf.clip_by_value(actions, self.low, self.high)


Head = CategoricalHead | GaussianHead


def make_head(action_space: gym.Space) -> Head:
    """The distribution head for a Discrete or one-dimensional-array Box action space."""
    if isinstance(action_space, gym.spaces.Discrete):
        return CategoricalHead(int(action_space.n))
    return GaussianHead(int(action_space.shape[0]), tuple(map(float, action_space.low)),
                        tuple(map(float, action_space.high)))


def observation_input(observation_space: gym.Space) -> keras.KerasTensor:
    """The policy's input: float32 [B] (Discrete), uint8 [B, H, W, C] (images, see
    `is_image_space`) or float32 [B, *obs_shape] (other Boxes)."""
    if isinstance(observation_space, gym.spaces.Discrete):
        return keras.Input(shape=(), dtype="float32", name="obs")
    dtype = "uint8" if is_image_space(observation_space) else "float32"
    return keras.Input(shape=observation_space.shape, dtype=dtype, name="obs")


def _preprocess(obs, observation_space: gym.Space, normalizer: RunningNormalization | None):
    """One-hot (Discrete), scaling to [0, 1] (images), or normalization (other Boxes, if on)."""
    if isinstance(observation_space, gym.spaces.Discrete):
        return OneHot(int(observation_space.n), int(observation_space.start), name="one_hot")(obs)
    if is_image_space(observation_space):
        return keras.layers.Rescaling(1.0 / 255.0, name="scale_to_unit")(obs)
    return normalizer(obs) if normalizer is not None else obs


def build_policy(observation_space: gym.Space, action_space: gym.Space,
                 features: keras.Model, normalize_obs: bool = False,
                 initial_log_std: float = 0.0) -> keras.Model:
    """obs [B, *obs_shape] -> preprocessing -> `features` -> distribution parameters.

    The preprocessing is one-hot for Discrete observations, scaling to [0, 1] for uint8
    images, and, with `normalize_obs`, a RunningNormalization for other Boxes (images are
    never normalized: their scale is known). Output: logits [B, n] (Discrete actions) or
    [mean, log_std] [B, 2d] (Box actions).
    """
    head = make_head(action_space)
    normalize = normalize_obs and not is_image_space(observation_space) and isinstance(
        observation_space, gym.spaces.Box)
    normalizer = RunningNormalization(name="obs_normalization") if normalize else None
    obs = observation_input(observation_space)
    x = features(_preprocess(obs, observation_space, normalizer))
    if head.kind == "categorical":
        params = keras.layers.Dense(head.num_actions, name="logits")(x)
    else:
        mean = keras.layers.Dense(head.action_dim, name="mean",
                                  kernel_initializer=keras.initializers.Orthogonal(0.01))(x)
        params = StateIndependentLogStd(initial_log_std, name="gaussian")(mean)
    return keras.Model(obs, params, name=POLICY_NAME)


def build_value(observation_space: gym.Space, policy: keras.Model) -> keras.Model:
    """State-value network obs -> V(s) [B]: the policy's preprocessing (sharing its
    observation normalizer) and a fresh copy of its feature network."""
    obs = observation_input(observation_space)
    x = _preprocess(obs, observation_space, observation_normalizer(policy))
    x = fresh_copy(feature_network(policy))(x)
    value = keras.layers.Dense(1, name="value")(x)
    return keras.Model(obs, keras.layers.Reshape(())(value), name=VALUE_NAME)


def feature_network(policy: keras.Model) -> keras.Model:
    """The feature network nested in a policy built by `build_policy`."""
    return next(layer for layer in policy.layers if isinstance(layer, keras.Model))


def observation_normalizer(model: keras.Model) -> RunningNormalization | None:
    """The model's RunningNormalization layer, if it has one."""
    return next((layer for layer in model.layers if isinstance(layer, RunningNormalization)),
                None)


def has_convolutions(model: keras.Model) -> bool:
    """Whether any layer, nested ones included, is a convolution."""
    return any(isinstance(layer, keras.layers.Conv2D) for layer in model._flatten_layers())


def make_act_fn(model: keras.Model, head: Head, greedy: bool = False,
                with_params: bool = False):
    """A compiled `act(obs [N, *obs_shape], seed int64 [2]) -> actions`, or with
    `with_params` `-> (actions, params)`, params being the network's output [N, k] (for a
    caller that checks it is finite).

    Actions are int32 [N] or float32 [N, d] (unclipped; pass them through `head.to_env`).
    Sampling is stateless: the same weights, observations and seed give the same actions,
    which makes seeded runs and resumed runs reproduce exactly.
    """
    signature = [observation_spec(model), tf.TensorSpec([2], tf.int64)]

    # XLA speeds up dense policies (fused small kernels) but slows convolutions on the
    # CPU (measured: 18k -> 13k obs/s for the Nature CNN at 84x84x3), where oneDNN wins.
    @tf.function(input_signature=signature, jit_compile=not has_convolutions(model),
                 autograph=False)
    def act(obs: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        params = model(obs, training=False)
        actions = head.greedy(params) if greedy else head.sample(params, seed)
        return (actions, params) if with_params else actions

    # Calling the concrete function skips tf.function's argument dispatch, about a third
    # of the per-step cost on CartPole-sized models.
    return act.get_concrete_function()


def load_policy(path: Path) -> keras.Model:
    """A policy saved as model.keras, or a RunDirError naming the file and the reason."""
    try:
        return keras.models.load_model(path)
    except Exception as exc:  # Keras raises many types for a file it cannot read
        raise RunDirError(f"cannot load {path}: {first_line(exc)}") from None


def observation_spec(model: keras.Model, name: str | None = None) -> tf.TensorSpec:
    """[None, *obs_shape] with the model input's dtype (float32, or uint8 for images)."""
    return tf.TensorSpec([None, *model.input_shape[1:]], model.inputs[0].dtype, name=name)
