"""A Keras policy's forward pass in numpy, for acting in rollouts.

A CartPole-sized network's forward pass for 16 observations is a few microseconds of
arithmetic, while a compiled TensorFlow call costs hundreds of microseconds of dispatch. When
every layer on the model's path from input to output has a numpy form here, `NumpyForward`
computes the model's output with numpy from weights read once per round (`sync`), in float32
like the model, so it differs from the model by float32 rounding only (the order of a
matmul's sums). The layers with a numpy form: InputLayer, Dense (float32, not quantized, no
LoRA) and Activation with linear, relu, tanh, sigmoid, elu, softplus or silu, ReLU with its
defaults, Flatten, Dropout (inactive when acting), Rescaling, keras_pg's OneHot,
RunningNormalization and StateIndependentLogStd, and nested Sequential or Functional models
of these, each layer taking the previous one's output. Anything else (a convolution, a
branch, a subclassed model) raises NoNumpyForm naming it, and the caller acts with
TensorFlow instead.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np

from keras_pg.policy.layers import OneHot, RunningNormalization, StateIndependentLogStd

Array = np.ndarray
Step = Callable[[Array], Array]
"""One layer's numpy function, float32 [N, ...] -> float32 [N, ...]."""

PROBE_ROWS = 64
PROBE_TOLERANCE = 1e-4
"""|numpy - model| <= PROBE_TOLERANCE * (1 + |model|) on a probe batch, or NoNumpyForm."""


class NoNumpyForm(Exception):
    """The model has a layer (or a structure) `NumpyForward` cannot compute; the message
    names it, e.g. "layer conv_0 is a Conv2D"."""


def _relu(x: Array) -> Array:
    return np.maximum(x, np.float32(0))


def _relu_in_place(x: Array) -> Array:
    return np.maximum(x, np.float32(0), out=x)


def _sigmoid(x: Array) -> Array:
    # The tanh form never overflows (1 / (1 + exp(-x)) does, with a warning, below -88).
    return np.float32(0.5) * (np.float32(1) + np.tanh(np.float32(0.5) * x))


def _elu(x: Array) -> Array:
    return np.where(x > 0, x, np.expm1(np.minimum(x, np.float32(0))))


def _softplus(x: Array) -> Array:
    return np.logaddexp(x, np.float32(0))


def _silu(x: Array) -> Array:
    return x * _sigmoid(x)


ACTIVATIONS: dict[Callable, Step] = {
    keras.activations.linear: lambda x: x,
    keras.activations.relu: _relu,
    keras.activations.tanh: np.tanh,
    keras.activations.sigmoid: _sigmoid,
    keras.activations.elu: _elu,
    keras.activations.softplus: _softplus,
    keras.activations.silu: _silu,
}


def _activation(layer: keras.layers.Layer, function: Callable) -> Step:
    if function not in ACTIVATIONS:
        raise NoNumpyForm(f"layer {layer.name} has activation "
                          f"{getattr(function, '__name__', function)!r}")
    return ACTIVATIONS[function]


def _dense(layer: keras.layers.Dense) -> Step:
    if layer.dtype_policy.name != "float32":
        raise NoNumpyForm(f"layer {layer.name} computes in {layer.dtype_policy.name}")
    if layer.quantization_mode is not None or layer.lora_enabled:
        raise NoNumpyForm(f"layer {layer.name} is quantized or has LoRA weights")
    kernel = layer.kernel.numpy()
    bias = layer.bias.numpy() if layer.use_bias else None
    # relu in place: the matmul's result is this step's own array.
    activation = (_relu_in_place if layer.activation is keras.activations.relu
                  else _activation(layer, layer.activation))

    def dense(x: Array) -> Array:
        y = x @ kernel
        if bias is not None:
            y += bias
        return activation(y)

    return dense


def _relu_layer(layer: keras.layers.ReLU) -> Step:
    if layer.max_value is not None or layer.negative_slope or layer.threshold:
        raise NoNumpyForm(f"layer {layer.name} is a ReLU with max_value, negative_slope or "
                          f"threshold")
    return _relu


def _rescaling(layer: keras.layers.Rescaling) -> Step:
    scale = np.asarray(layer.scale, dtype=np.float32)
    offset = np.asarray(layer.offset, dtype=np.float32)
    return lambda x: x.astype(np.float32) * scale + offset


def _one_hot(layer: OneHot) -> Step:
    eye = np.concatenate([np.eye(layer.num_values, dtype=np.float32),
                          np.zeros((1, layer.num_values), dtype=np.float32)])

    def one_hot(x: Array) -> Array:
        # Like ops.one_hot: a value outside start..start+n-1 gives a row of zeros.
        index = x.astype(np.int32) - layer.start
        return eye[np.where((index >= 0) & (index < layer.num_values), index, -1)]

    return one_hot


def _normalization(layer: RunningNormalization) -> Step:
    mean = layer.mean.numpy()
    scale = np.sqrt(layer.variance.numpy() + np.float32(layer.epsilon))
    clip = np.float32(layer.clip)
    return lambda x: np.clip((x - mean) / scale, -clip, clip)


def _log_std(layer: StateIndependentLogStd) -> Step:
    log_std = layer.log_std.numpy()
    return lambda mean: np.concatenate(
        [mean, np.broadcast_to(log_std, mean.shape)], axis=-1)


def _flatten(x: Array) -> Array:
    return x.reshape(len(x), -1)


BUILDERS: dict[type, Callable[[keras.layers.Layer], Step | None]] = {
    keras.layers.InputLayer: lambda layer: None,
    keras.layers.Dropout: lambda layer: None,
    keras.layers.Dense: _dense,
    keras.layers.Activation: lambda layer: _activation(layer, layer.activation),
    keras.layers.ReLU: _relu_layer,
    keras.layers.Flatten: lambda layer: _flatten,
    keras.layers.Rescaling: _rescaling,
    OneHot: _one_hot,
    RunningNormalization: _normalization,
    StateIndependentLogStd: _log_std,
}
"""The numpy function of each layer type with its current weights (None: the identity). The
exact type: a subclass may compute something else."""


def _step(layer: keras.layers.Layer) -> Step | None:
    if isinstance(layer, keras.Model):
        return _chain_function([_step(inner) for inner in _chain(layer)])
    if type(layer) not in BUILDERS:
        raise NoNumpyForm(f"layer {layer.name} is a {type(layer).__name__}")
    return BUILDERS[type(layer)](layer)


def _chain_function(steps: list[Step | None]) -> Step:
    kept = [step for step in steps if step is not None]

    def chain(x: Array) -> Array:
        for step in kept:
            x = step(x)
        return x

    return chain


def _chain(model: keras.Model) -> list[keras.layers.Layer]:
    """The model's layers from input to output, when each takes the previous one's output."""
    if isinstance(model, keras.Sequential):
        return list(model.layers)
    if type(model).__name__ != "Functional":
        raise NoNumpyForm(f"model {model.name} is a subclassed {type(model).__name__}")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise NoNumpyForm(f"model {model.name} has several inputs or outputs")
    if isinstance(model.input, dict):  # a Dict observation of one part: fed as {part: x}
        raise NoNumpyForm(f"model {model.name} takes a dict of observation parts")
    layers, tensor = [], model.outputs[0]
    while tensor is not model.inputs[0]:
        operation, node_index, _ = tensor._keras_history
        inputs = operation._inbound_nodes[node_index].input_tensors
        if len(inputs) != 1:
            raise NoNumpyForm(f"layer {operation.name} of model {model.name} takes "
                              f"{len(inputs)} inputs")
        layers.append(operation)
        tensor = inputs[0]
    return layers[::-1]


class NumpyForward:
    """`forward(obs [N, *obs_shape]) -> params float32 [N, P]`, the model's output in numpy.

    Raises NoNumpyForm when a layer has no numpy form, or when the numpy pass disagrees with
    the model on a probe batch (standard normal values, or random bytes for a uint8 input):
    a layer whose configuration this module does not read would show there.
    """

    def __init__(self, model: keras.Model) -> None:
        self.model = model
        self.dtype = np.dtype(model.inputs[0].dtype)
        self.sync()
        self._check_against_model()

    def sync(self) -> None:
        """Read the model's current weights (call after every update)."""
        self._forward = _chain_function([_step(layer) for layer in _chain(self.model)])

    def __call__(self, obs: Array) -> Array:
        return self._forward(np.asarray(obs, dtype=self.dtype))

    def _check_against_model(self) -> None:
        rng = np.random.default_rng(0)
        shape = (PROBE_ROWS, *self.model.input_shape[1:])
        probe = (rng.integers(0, 256, shape, dtype=np.uint8) if self.dtype == np.uint8
                 else rng.standard_normal(shape).astype(self.dtype))
        expected = np.asarray(self.model(probe, training=False))
        with np.errstate(all="ignore"):  # diverged weights: inf and NaN on both sides
            got = self(probe)
            error = np.abs(got - expected) / (1 + np.abs(expected))
            both_non_finite = ~np.isfinite(got) & ~np.isfinite(expected)
        if got.shape != expected.shape or not (both_non_finite | (error <= PROBE_TOLERANCE)).all():
            raise NoNumpyForm(f"its numpy form differs from model {self.model.name} on a "
                              f"probe batch")
