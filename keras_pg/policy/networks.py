"""Feature networks: the preprocessed observation -> a feature vector [batch, features].

keras_pg puts the preprocessing (one-hot, normalization, image scaling) in front of the
feature network and the distribution head behind it (see `policy.py`), so a network --
built in or the user's own -- sees float32 [batch, *preprocessed_shape] and returns
[batch, features]:

    Discrete(n) observations        -> (n,)        one-hot
    MultiDiscrete(nvec)             -> (sum(nvec),) one-hots side by side
    MultiBinary(n)                  -> (n,)        as they are
    Box observations of any shape   -> obs_shape   normalized (optional) but not flattened
    (H, W, C) uint8 image Box       -> (H, W, C)   scaled to [0, 1]

For a Dict or Tuple observation the network takes {part: its preprocessed tensor}; the
built-in one (`combined`, Stable-Baselines3's CombinedExtractor in form) runs the CNN's
convolutions over each image part, flattens the others, concatenates them, then applies its
Dense layers.

With `precision="bfloat16"` the built-in networks compute in bfloat16 (Keras's
"mixed_bfloat16" policy: float32 weights, bfloat16 matmuls and convolutions); the head behind
them, the losses and the exported ONNX file stay float32.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import gymnasium as gym
import keras

from keras_pg.config import ConfigError, ConfigTypeError
from keras_pg.errors import first_line
from keras_pg.policy.recurrent import CELLS, CORE_NAME, RecurrentCore, is_recurrent, state_size
from serve.spaces import is_image_space, is_structured, observation_parts

FEATURES_NAME = "features"
NATURE_MIN_SIDE = 36  # the smallest side the Nature CNN's 8/4, 4/2, 3/1 convolutions fit


def preprocessed_shape(observation_space: gym.Space) -> tuple[int, ...]:
    """The shape (without batch) that a feature network receives for one part."""
    if isinstance(observation_space, gym.spaces.Discrete):
        return (int(observation_space.n),)
    if isinstance(observation_space, gym.spaces.MultiDiscrete):
        return (int(observation_space.nvec.sum()),)
    return tuple(int(d) for d in cast(tuple[int, ...], observation_space.shape))


PreprocessedShape = tuple[int, ...] | dict[str, tuple[int, ...]]


def preprocessed_shapes(observation_space: gym.Space) -> PreprocessedShape:
    """`preprocessed_shape` of an unstructured space, or {part: its shape}."""
    if not is_structured(observation_space):
        return preprocessed_shape(observation_space)
    return {name: preprocessed_shape(part)
            for name, part in observation_parts(observation_space).items()}


def dtype_policy(precision: str) -> str:
    """The Keras dtype policy of the built-in networks' layers for `precision`."""
    return "mixed_bfloat16" if precision == "bfloat16" else "float32"


def mlp(input_shape: tuple[int, ...], hidden: tuple[int, ...],
        precision: str = "float32", name: str = FEATURES_NAME) -> keras.Model:
    """Flatten (rank > 1), then Dense(width, relu) per entry of `hidden`."""
    inputs = keras.Input(input_shape, name="preprocessed_obs")
    x = keras.layers.Flatten(name="flatten")(inputs) if len(input_shape) > 1 else inputs
    return keras.Model(inputs, _dense(x, hidden, precision), name=name)


def cnn(input_shape: tuple[int, ...], hidden: tuple[int, ...],
        precision: str = "float32", name: str = FEATURES_NAME) -> keras.Model:
    """Convolutions over [H, W, C] in [0, 1], then Dense layers of `hidden` widths.

    Images of at least 36 pixels a side get the Nature-DQN stack (Mnih et al. 2015; the
    CNN of Stable-Baselines3 and CleanRL for Atari): 32 8x8/4, 64 4x4/2, 64 3x3/1, ReLU.
    Smaller ones (grid worlds such as 7x7x3), where those strides do not fit, get
    32 3x3/1, 64 3x3/2, 64 3x3/2 with "same" padding.
    """
    if len(input_shape) != 3:
        raise ConfigError(f"network cnn needs (H, W, C) observations; got shape {input_shape}")
    inputs = keras.Input(input_shape, name="preprocessed_obs")
    x = keras.layers.Flatten(name="flatten")(_convolutions(inputs, precision))
    return keras.Model(inputs, _dense(x, hidden, precision), name=name)


def _convolutions(x: keras.KerasTensor, precision: str, suffix: str = "") -> keras.KerasTensor:
    """The CNN's convolutions (see `cnn`) over x [B, H, W, C]."""
    if min(x.shape[1:3]) >= NATURE_MIN_SIDE:
        convolutions = [(32, 8, 4, "valid"), (64, 4, 2, "valid"), (64, 3, 1, "valid")]
    else:
        convolutions = [(32, 3, 1, "same"), (64, 3, 2, "same"), (64, 3, 2, "same")]
    for i, (filters, size, stride, padding) in enumerate(convolutions):
        x = keras.layers.Conv2D(filters, size, stride, padding, activation="relu",
                                name=f"conv_{i}{suffix}", dtype=dtype_policy(precision))(x)
    return x


def _dense(x: keras.KerasTensor, hidden: tuple[int, ...], precision: str) -> keras.KerasTensor:
    for i, width in enumerate(hidden):
        x = keras.layers.Dense(width, activation="relu", name=f"hidden_{i}",
                               dtype=dtype_policy(precision))(x)
    return x


def combined(shapes: dict[str, tuple[int, ...]], images: set[str], hidden: tuple[int, ...],
             precision: str = "float32", name: str = FEATURES_NAME) -> keras.Model:
    """{part: [B, *shape]} -> [B, hidden[-1]]: the CNN's convolutions over each part in
    `images`, every part flattened, concatenated in the parts' order, then Dense(width, relu)
    per entry of `hidden`."""
    inputs = {part: keras.Input(shape, name=part) for part, shape in shapes.items()}
    branches = []
    for part, x in inputs.items():
        if part in images:
            x = _convolutions(x, precision, f".{part}")
        branches.append(keras.layers.Flatten(name=f"flatten.{part}")(x) if len(x.shape) > 2
                        else x)
    x = (keras.layers.Concatenate(name="concatenate")(branches) if len(branches) > 1
         else branches[0])
    return keras.Model(inputs, _dense(x, hidden, precision), name=name)


def recurrent(encoder: keras.Model, cell: str, units: int) -> keras.Model:
    """[preprocessed obs, state [B, S]] -> [h [B, units], next_state [B, S]]: `encoder` (the
    built-in network of the observation), then one step of a `cell` ("gru" or "lstm") of
    `units` (`keras_pg.policy.recurrent`). The cell computes in float32."""
    obs = keras.tree.map_structure(lambda x: keras.Input(x.shape[1:], name=x.name),
                                   encoder.input)
    core = RecurrentCore(cell, units, name=CORE_NAME)
    state = keras.Input((core.state_size,), name="state")
    h, next_state = core(encoder(obs), state)
    return keras.Model([obs, state], [h, next_state], name=FEATURES_NAME)


def network_kind(network: str, observation_space: gym.Space) -> str:
    """"mlp" or "cnn": `auto` (and the encoder of `gru` and `lstm`) picks the CNN for
    (H, W, C) uint8 images, and for a structured observation with an image part (whose other
    parts are flattened)."""
    if network in ("auto", *CELLS):
        parts = observation_parts(observation_space).values()
        return "cnn" if any(is_image_space(part) for part in parts) else "mlp"
    return network


def build_features(network: str, observation_space: gym.Space, hidden: tuple[int, ...],
                   precision: str = "float32", units: int = 64,
                   name: str = FEATURES_NAME) -> keras.Model:
    """The built-in feature network named by `network` (auto, mlp, cnn, gru or lstm),
    computing in `precision` (float32 or bfloat16); `combined` for a structured observation
    (cnn: with convolutions over its image parts, which it must have). gru and lstm: the
    network `auto` picks, then a recurrent cell of `units` (`recurrent`)."""
    if network in CELLS:
        encoder = build_features("auto", observation_space, hidden, precision, name="encoder")
        return recurrent(encoder, network, units)
    kind = network_kind(network, observation_space)
    shapes = preprocessed_shapes(observation_space)
    if isinstance(shapes, dict):
        parts = observation_parts(observation_space)
        images = {name for name, part in parts.items() if is_image_space(part)}
        if kind == "cnn" and not images:
            raise ConfigError(f"network cnn needs an (H, W, C) uint8 image part; the "
                              f"observation's parts are {', '.join(parts)}")
        return combined(shapes, images if kind == "cnn" else set(), hidden, precision, name)
    return (cnn if kind == "cnn" else mlp)(shapes, hidden, precision, name)


def user_features(policy: keras.Model | Callable[[gym.Space], keras.Model],
                  observation_space: gym.Space) -> keras.Model:
    """The user's `policy=` argument (a keras.Model, or a function of the observation space
    that returns one) as a feature network, checked against the observation space. For a
    structured observation it takes {part: preprocessed tensor} (`preprocessed_shapes`).

    A recurrent network takes [preprocessed observation, state float32 [batch, S]] and
    returns [features [batch, F], next_state [batch, S]] (`keras_pg.policy.recurrent`): its
    second input's size is the state's."""
    if not isinstance(policy, keras.Model) and callable(policy):
        policy = policy(observation_space)
    if not isinstance(policy, keras.Model):
        raise ConfigTypeError(f"policy must be a keras.Model or a function (observation_space) "
                              f"-> keras.Model; got {type(policy).__name__}")
    expected = preprocessed_shapes(observation_space)
    recurrent = is_recurrent(policy)
    state = [keras.Input((state_size(policy),))] if recurrent else []
    probe = _probe(policy, expected, observation_space)
    try:
        outputs = policy([probe, *state]) if recurrent else policy(probe)
    except Exception as exc:  # the user's network: whatever its call raises
        raise ConfigError(f"the policy network cannot take inputs of shape {expected} "
                          f"(observations from {observation_space}): {first_line(exc)}"
                          ) from None
    features, *next_state = outputs if recurrent else [outputs]
    if not isinstance(features, keras.KerasTensor) or len(features.shape) != 2:
        got = getattr(features, "shape", type(features).__name__)
        raise ConfigError(f"the policy network must return a feature vector [batch, "
                          f"features]; it returns {got} for inputs "
                          f"{(None, *expected) if isinstance(expected, tuple) else expected}")
    if recurrent and tuple(next_state[0].shape) != tuple(state[0].shape):
        raise ConfigError(f"a recurrent policy network returns [features, next_state] with "
                          f"next_state of its state input's shape {tuple(state[0].shape)}; "
                          f"it returns {tuple(next_state[0].shape)}")
    return policy


def _probe(policy: keras.Model, expected: PreprocessedShape, observation_space: gym.Space
           ) -> keras.KerasTensor | dict[str, keras.KerasTensor]:
    """Inputs of the preprocessed observation's shapes, once the shape the network declares
    (if any) is checked against them."""
    if isinstance(expected, dict):
        return {name: keras.Input(shape, name=name) for name, shape in expected.items()}
    declared = _declared_input_shape(policy)
    if declared is not None and not _compatible(declared, expected):
        raise ConfigError(f"the policy network takes inputs of shape {declared}; "
                          f"observations from {observation_space} are {expected} after "
                          f"preprocessing")
    return keras.Input(expected)


def check_serializable(model: keras.Model) -> None:
    """A user's network must survive model.keras: every custom layer registered with Keras.
    Checked at construction, so the failure comes before training, not at the first save."""
    try:
        keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    except Exception as exc:  # Keras raises TypeError/ValueError, depending on what fails
        raise ConfigError(
            f"the policy network cannot be saved and loaded as model.keras "
            f"({first_line(exc, 160)}); decorate custom layers and models with "
            f"@keras.saving.register_keras_serializable() and give them get_config") from None


def fresh_copy(features: keras.Model) -> keras.Model:
    """The same architecture with new weights (for the value network)."""
    return keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(features))


def _declared_input_shape(model: keras.Model) -> tuple[int | None, ...] | None:
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):  # a subclassed model declares no input
        return None
    if not inputs:
        return None
    if is_recurrent(model):
        inputs = inputs[:1]  # the observation's, then the state's
    if len(inputs) != 1:
        raise ConfigError(f"the policy network takes {len(inputs)} inputs; expected one (the "
                          f"preprocessed observation), or two for a recurrent network "
                          f"(the preprocessed observation and the state)")
    return tuple(inputs[0].shape[1:])


def _compatible(declared: tuple[int | None, ...], expected: tuple[int, ...]) -> bool:
    return len(declared) == len(expected) and all(
        d is None or d == e for d, e in zip(declared, expected, strict=True))
