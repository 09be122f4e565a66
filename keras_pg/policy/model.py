"""The policy network: preprocessing, features and the head's output layer.

The Keras model maps observations to the parameters of an action distribution: categorical
logits [B, n] for a Discrete action space, [mean, log_std] [B, 2d] of a diagonal Gaussian for
a Box one. It is built from three parts: the preprocessing of the observation (one-hot,
image scaling, running normalization), a feature network (`networks.py`: built in or the
user's own) and the head's output layer. Everything the loop does with those parameters --
sampling, log-probabilities, entropy, the greedy action, what the environment receives --
goes through a head object.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import keras
import tensorflow as tf

from keras_pg.errors import first_line
from keras_pg.policy.heads import Head, make_head
from keras_pg.policy.layers import OneHot, RunningNormalization, StateIndependentLogStd
from keras_pg.policy.networks import fresh_copy
from keras_pg.run.run_dir import RunDirError
from serve.spaces import is_image_space, observation_dtype, observation_shape

POLICY_NAME = "keras_pg_policy"
VALUE_NAME = "keras_pg_value"


def observation_input(observation_space: gym.Space) -> keras.KerasTensor:
    """The policy's input: float32 [B] (Discrete), uint8 [B, H, W, C] (images, see
    `serve.spaces.is_image_space`) or float32 [B, *obs_shape] (other Boxes)."""
    return keras.Input(shape=observation_shape(observation_space),
                       dtype=observation_dtype(observation_space), name="obs")


def _preprocess(obs: keras.KerasTensor, observation_space: gym.Space,
                normalizer: RunningNormalization | None) -> keras.KerasTensor:
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
    never normalized: their scale is known). Output: the head's parameters (heads.py): logits
    [B, n] (Discrete), [B, sum(nvec)] (MultiDiscrete) or [B, n] (MultiBinary) actions, or
    [mean, log_std] [B, 2d] (Box actions).
    """
    head = make_head(action_space)
    normalize = normalize_obs and not is_image_space(observation_space) and isinstance(
        observation_space, gym.spaces.Box)
    normalizer = RunningNormalization(name="obs_normalization") if normalize else None
    obs = observation_input(observation_space)
    x = features(_preprocess(obs, observation_space, normalizer))
    if head.kind == "gaussian":
        mean = keras.layers.Dense(head.action_dim, name="mean",
                                  kernel_initializer=keras.initializers.Orthogonal(0.01))(x)
        params = StateIndependentLogStd(initial_log_std, name="gaussian")(mean)
    else:  # the logits of a categorical, per branch of a multi-categorical, or per bit
        params = keras.layers.Dense(head.params_size, name="logits")(x)
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
                with_params: bool = False) -> tf.types.experimental.ConcreteFunction:
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
    def act(obs: tf.Tensor, seed: tf.Tensor) -> tf.Tensor | tuple[tf.Tensor, tf.Tensor]:
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
