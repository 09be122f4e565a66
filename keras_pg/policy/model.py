"""The policy network: preprocessing, features and the head's output layer.

The Keras model maps observations to the parameters of an action distribution (heads.py:
categorical logits [B, n] for a Discrete action space, [mean, log_std] [B, 2d] of a diagonal
Gaussian for a Box one, ...). It is built from three parts: the preprocessing of the
observation (one-hot, image scaling, running normalization), a feature network
(`networks.py`: built in or the user's own) and the head's output layer. Everything the loop
does with those parameters -- sampling, log-probabilities, entropy, the greedy action, what
the environment receives -- goes through a head object.

A Dict or Tuple observation space (`serve.spaces.observation_parts`) gives a model with one
input per part, a dict {part name: tensor}: each part is preprocessed on its own, and the
feature network takes the dict of preprocessed parts. Keras names each input after its part
(its other layers of a part "LAYER.PART": `keras_pg.envs.check_spaces` keeps keys undotted).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeAlias

import gymnasium as gym
import keras
import numpy as np
import tensorflow as tf

from keras_pg.errors import first_line
from keras_pg.policy.heads import Head, make_head, masked_logits
from keras_pg.policy.layers import (
    MultiOneHot,
    OneHot,
    RunningNormalization,
    StateIndependentLogStd,
)
from keras_pg.policy.networks import fresh_copy
from keras_pg.policy.recurrent import is_recurrent, state_size
from keras_pg.run.run_dir import RunDirError
from serve import contract
from serve.spaces import is_image_space, is_structured, observation_parts, part_specs

POLICY_NAME = "keras_pg_policy"
VALUE_NAME = "keras_pg_value"
NORMALIZER_NAME = "obs_normalization"  # of an unstructured observation; a part's: + ".NAME"
Inputs: TypeAlias = keras.KerasTensor | dict[str, keras.KerasTensor]
"""A model's input: one tensor, or one per part of a Dict or Tuple observation."""


def observation_input(observation_space: gym.Space) -> Inputs:
    """The policy's input per part: float32 [B] (Discrete), uint8 [B, H, W, C] (images, see
    `serve.spaces.is_image_space`) or float32 [B, *shape] (Box, MultiDiscrete, MultiBinary);
    one tensor named "obs", or a dict {part: tensor named after the part} for a structured
    space."""
    inputs = {name: keras.Input(shape=shape, dtype=dtype, name=name)
              for name, (shape, dtype) in part_specs(observation_space).items()}
    return inputs if is_structured(observation_space) else inputs[contract.INPUT]


def make_normalizers(observation_space: gym.Space, normalize_obs: bool
                     ) -> dict[str, RunningNormalization]:
    """{part: its RunningNormalization} for the non-image Box parts, with `normalize_obs`
    (images are never normalized: their scale is known; nor are one-hot values)."""
    if not normalize_obs:
        return {}
    structured = is_structured(observation_space)
    return {name: RunningNormalization(name=f"{NORMALIZER_NAME}.{name}" if structured
                                       else NORMALIZER_NAME)
            for name, part in observation_parts(observation_space).items()
            if isinstance(part, gym.spaces.Box) and not is_image_space(part)}


def _preprocess(obs: Inputs, observation_space: gym.Space,
                normalizers: dict[str, RunningNormalization]) -> Inputs:
    """Each part preprocessed: one-hot (Discrete, MultiDiscrete), scaling to [0, 1] (images),
    normalization (other Boxes, with a normalizer), as it is otherwise (MultiBinary)."""
    if not isinstance(obs, dict):
        return _preprocess_part(obs, observation_space, normalizers.get(contract.INPUT), "")
    parts = observation_parts(observation_space)
    return {name: _preprocess_part(x, parts[name], normalizers.get(name), f".{name}")
            for name, x in obs.items()}


def _preprocess_part(x: keras.KerasTensor, space: gym.Space,
                     normalizer: RunningNormalization | None, suffix: str) -> keras.KerasTensor:
    if isinstance(space, gym.spaces.Discrete):
        return OneHot(int(space.n), int(space.start), name=f"one_hot{suffix}")(x)
    if isinstance(space, gym.spaces.MultiDiscrete):
        return MultiOneHot([int(n) for n in space.nvec], name=f"one_hot{suffix}")(x)
    if is_image_space(space):
        return keras.layers.Rescaling(1.0 / 255.0, name=f"scale_to_unit{suffix}")(x)
    return normalizer(x) if normalizer is not None else x


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
    obs = observation_input(observation_space)
    x, inputs, state_outputs = _features(obs, features, _preprocess(
        obs, observation_space, make_normalizers(observation_space, normalize_obs)))
    if head.kind == "gaussian":
        mean = keras.layers.Dense(head.action_dim, name="mean",
                                  kernel_initializer=keras.initializers.Orthogonal(0.01))(x)
        params = StateIndependentLogStd(initial_log_std, name="gaussian")(mean)
    else:  # the logits of a categorical, per branch of a multi-categorical, or per bit
        params = keras.layers.Dense(head.params_size, name="logits")(x)
    # A feed-forward model's output is the tensor itself, as before recurrent ones existed.
    return keras.Model(inputs, [params, *state_outputs] if state_outputs else params,
                       name=POLICY_NAME)


def _features(obs: Inputs, features: keras.Model, preprocessed: Inputs
              ) -> tuple[keras.KerasTensor, Any, list[keras.KerasTensor]]:
    """(the features, the model's inputs, its outputs after the head's): obs and [] for a
    feed-forward network; [obs, state] and [next_state] for a recurrent one
    (`keras_pg.policy.recurrent`), whose state input is float32 [B, S] named "state"."""
    if not is_recurrent(features):
        return features(preprocessed), obs, []
    state = keras.Input((state_size(features),), name=contract.STATE)
    x, next_state = features([preprocessed, state])
    return x, [obs, state], [next_state]


def build_value(observation_space: gym.Space, policy: keras.Model) -> keras.Model:
    """State-value network obs -> V(s) [B]: the policy's preprocessing (sharing its
    observation normalizers) and a fresh copy of its feature network; for a recurrent
    policy [obs, state] -> [V [B], next_state] with a state of its own."""
    obs = observation_input(observation_space)
    x, inputs, state_outputs = _features(obs, fresh_copy(feature_network(policy)), _preprocess(
        obs, observation_space, observation_normalizers(policy)))
    value = keras.layers.Reshape(())(keras.layers.Dense(1, name="value")(x))
    return keras.Model(inputs, [value, *state_outputs] if state_outputs else value,
                       name=VALUE_NAME)


def feature_network(policy: keras.Model) -> keras.Model:
    """The feature network nested in a policy built by `build_policy`."""
    return next(layer for layer in policy.layers if isinstance(layer, keras.Model))


def observation_normalizers(model: keras.Model) -> dict[str, RunningNormalization]:
    """{part: the model's RunningNormalization layer of it} ("obs" for an unstructured
    observation), for the parts it normalizes."""
    return {layer.name.partition(".")[2] or contract.INPUT: layer for layer in model.layers
            if isinstance(layer, RunningNormalization)}


def has_convolutions(model: keras.Model) -> bool:
    """Whether any layer, nested ones included, is a convolution."""
    return any(isinstance(layer, keras.layers.Conv2D) for layer in model._flatten_layers())


def make_act_fn(model: keras.Model, head: Head, greedy: bool = False,
                with_params: bool = False, masked: bool = False
                ) -> tf.types.experimental.ConcreteFunction:
    """A compiled `act(obs [N, *obs_shape], seed int64 [2]) -> actions`, or with
    `with_params` `-> (actions, params)`, params being the network's output [N, k] (for a
    caller that checks it is finite). For a recurrent model `act(obs, state [N, S], seed)
    -> (actions, next_state)` (with `with_params`: `(actions, next_state, params)`). With
    `masked`, the invalid-action mask bool [N, P] comes after the state (before the seed)
    and masked actions are never taken (`heads.masked_logits`; params are then the masked
    logits).

    Actions are int32 [N] or float32 [N, d] (unclipped; pass them through `head.to_env`).
    Sampling is stateless: the same weights, observations and seed give the same actions,
    which makes seeded runs and resumed runs reproduce exactly.
    """
    recurrent = is_recurrent(model)
    signature = [observation_spec(model), *([state_spec(model)] if recurrent else []),
                 *([tf.TensorSpec([None, head.params_size], tf.bool)] if masked else []),
                 tf.TensorSpec([2], tf.int64)]

    # XLA speeds up dense policies (fused small kernels) but slows convolutions on the
    # CPU (measured: 18k -> 13k obs/s for the Nature CNN at 84x84x3), where oneDNN wins.
    @tf.function(input_signature=signature, jit_compile=not has_convolutions(model),
                 autograph=False)
    def act(obs: tf.Tensor, *rest: tf.Tensor) -> tf.Tensor | tuple[tf.Tensor, ...]:
        state, mask, seed = rest[:recurrent], rest[recurrent:-1], rest[-1]
        params, *next_state = (model([obs, *state], training=False) if recurrent
                               else [model(obs, training=False)])
        if mask:
            params = masked_logits(params, mask[0])
        actions = head.greedy(params) if greedy else head.sample(params, seed)
        outputs = (actions, *next_state, *([params] if with_params else []))
        return outputs if len(outputs) > 1 else actions

    # Calling the concrete function skips tf.function's argument dispatch, about a third
    # of the per-step cost on CartPole-sized models.
    return act.get_concrete_function()


def load_policy(path: Path) -> keras.Model:
    """A policy saved as model.keras, or a RunDirError naming the file and the reason."""
    try:
        return keras.models.load_model(path)
    except Exception as exc:  # Keras raises many types for a file it cannot read
        raise RunDirError(f"cannot load {path}: {first_line(exc)}") from None


ObservationSpec: TypeAlias = tf.TensorSpec | dict[str, tf.TensorSpec]


def observation_spec(model: keras.Model, name: str | None = None) -> ObservationSpec:
    """[None, *obs_shape] with the model input's dtype (float32, or uint8 for images), named
    `name`; for a model of a structured observation, {part: its spec named after the part}
    (the names of the exported ONNX inputs)."""
    obs = observation_inputs(model)
    if isinstance(obs, dict):
        return {part: tf.TensorSpec([None, *x.shape[1:]], x.dtype, name=part)
                for part, x in obs.items()}
    return tf.TensorSpec([None, *obs.shape[1:]], obs.dtype, name=name)


def state_spec(model: keras.Model) -> tf.TensorSpec:
    """float32 [None, S], a recurrent model's state input, named "state"."""
    return tf.TensorSpec([None, state_size(model)], tf.float32, name=contract.STATE)


def observation_inputs(model: keras.Model) -> Inputs:
    """The model's observation input(s): all its inputs, or a recurrent model's first."""
    return model.input[0] if is_recurrent(model) else model.input


def observation_dtypes(model: keras.Model) -> np.dtype | dict[str, np.dtype]:
    """The dtype the model takes observations in, per part for a structured observation."""
    obs = observation_inputs(model)
    if isinstance(obs, dict):
        return {part: np.dtype(x.dtype) for part, x in obs.items()}
    return np.dtype(obs.dtype)
