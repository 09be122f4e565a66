"""The custom Keras layers of keras_pg policies, registered for `keras.models.load_model`.

Everything between the raw observation and the distribution's parameters lives in the
model, so `model.keras` and the exported `policy.onnx` need no side file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import keras
from keras import ops

if TYPE_CHECKING:  # the tensors of the TensorFlow backend; this module uses keras.ops only
    import numpy as np
    import tensorflow as tf

Shape = tuple[int | None, ...]
"""A Keras shape: the batch dimension first, None where unknown."""


@keras.saving.register_keras_serializable(package="keras_pg")
class RunningNormalization(keras.layers.Layer):
    """clip((x - mean) / sqrt(var + epsilon), -clip, clip) with running statistics.

    `mean`, `variance` and `count` are non-trainable weights updated by `update(batch)` from
    every observation seen in training (Chan et al. 1979 parallel variance), so compiled
    functions see new statistics without retracing. Shapes: x [B, *obs_shape] -> same.
    """

    mean: keras.Variable
    variance: keras.Variable
    count: keras.Variable

    def __init__(self, clip: float = 10.0, epsilon: float = 1e-8, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clip = float(clip)
        self.epsilon = float(epsilon)

    def build(self, input_shape: Shape) -> None:
        shape = tuple(input_shape[1:])
        self.mean = self.add_weight(shape=shape, initializer="zeros", trainable=False,
                                    name="mean")
        self.variance = self.add_weight(shape=shape, initializer="ones", trainable=False,
                                        name="variance")
        self.count = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                     dtype="float64", name="count")

    def call(self, x: tf.Tensor) -> tf.Tensor:
        scaled = (x - self.mean) / ops.sqrt(self.variance + self.epsilon)
        return ops.clip(scaled, -self.clip, self.clip)

    def update(self, batch: np.ndarray | tf.Tensor) -> None:
        """Merge the statistics of a non-empty `batch` [N, *obs_shape] (array or tensor) into
        the running ones; works eagerly and inside compiled functions. Math in float64."""
        batch = ops.cast(batch, "float64")
        n = ops.cast(ops.shape(batch)[0], "float64")
        count = self.count.value
        mean = ops.cast(self.mean.value, "float64")
        variance = ops.cast(self.variance.value, "float64")
        batch_mean, batch_var = ops.mean(batch, axis=0), ops.var(batch, axis=0)
        total = count + n
        delta = batch_mean - mean
        m2 = variance * count + batch_var * n + ops.square(delta) * count * n / total
        self.mean.assign(ops.cast(mean + delta * n / total, "float32"))
        self.variance.assign(ops.cast(m2 / total, "float32"))
        self.count.assign(total)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "clip": self.clip, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="keras_pg")
class OneHot(keras.layers.Layer):
    """A Discrete observation (float [B], values start..start+n-1) -> one-hot float [B, n]."""

    def __init__(self, num_values: int, start: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_values = int(num_values)
        self.start = int(start)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return ops.one_hot(ops.cast(x, "int32") - self.start, self.num_values)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape, self.num_values)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_values": self.num_values, "start": self.start}


@keras.saving.register_keras_serializable(package="keras_pg")
class MultiOneHot(keras.layers.Layer):
    """A MultiDiscrete observation (float [B, k], value i in 0..nvec[i]-1) -> the one-hots of
    its values side by side, float [B, sum(nvec)]."""

    def __init__(self, nvec: list[int] | tuple[int, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.nvec = [int(n) for n in nvec]

    def call(self, x: tf.Tensor) -> tf.Tensor:
        values = ops.cast(x, "int32")
        return ops.concatenate([ops.one_hot(values[:, i], n) for i, n in enumerate(self.nvec)],
                               axis=-1)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], sum(self.nvec))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "nvec": self.nvec}


@keras.saving.register_keras_serializable(package="keras_pg")
class StateIndependentLogStd(keras.layers.Layer):
    """Appends a trainable log-std vector that does not depend on the state to the mean:
    mean [B, d] -> [B, 2d] = [mean, log_std] (the parameters of a diagonal Gaussian)."""

    log_std: keras.Variable

    def __init__(self, initial_log_std: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.initial_log_std = float(initial_log_std)

    def build(self, input_shape: tuple[int | None, int]) -> None:
        self.log_std = self.add_weight(
            shape=(input_shape[-1],), name="log_std",
            initializer=keras.initializers.Constant(self.initial_log_std))

    def call(self, mean: tf.Tensor) -> tf.Tensor:
        log_std = ops.broadcast_to(self.log_std, ops.shape(mean))
        return ops.concatenate([mean, log_std], axis=-1)

    def compute_output_shape(self, input_shape: tuple[int | None, int]) -> Shape:
        return (*input_shape[:-1], 2 * input_shape[-1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "initial_log_std": self.initial_log_std}
