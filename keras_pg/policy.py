"""The policy network and its action distribution.

The Keras model maps observations to the parameters of an action distribution (categorical
logits for a Discrete action space). Everything the loop does with those parameters --
sampling, log-probabilities, entropy, the greedy action -- goes through a head object, so a
Gaussian head for Box actions can be added without touching the rollout or the update.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import tensorflow as tf

POLICY_NAME = "keras_pg_policy"


@dataclass(frozen=True)
class CategoricalHead:
    """A categorical distribution over `num_actions` actions parameterized by logits [B, A]."""

    num_actions: int

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

    @property
    def max_entropy(self) -> float:
        """Entropy of the uniform distribution, in nats."""
        return math.log(self.num_actions)


def build_policy(observation_shape: tuple[int, ...], num_actions: int,
                 hidden: tuple[int, ...]) -> keras.Model:
    """A functional MLP: observation float32 [B, *observation_shape] -> logits [B, num_actions].

    Observations of rank > 1 are flattened inside the model, so the exported graph takes the
    environment's raw observation.
    """
    obs = keras.Input(shape=observation_shape, dtype="float32", name="obs")
    x = keras.layers.Flatten(name="flatten")(obs) if len(observation_shape) > 1 else obs
    for i, width in enumerate(hidden):
        x = keras.layers.Dense(width, activation="relu", name=f"hidden_{i}")(x)
    logits = keras.layers.Dense(num_actions, name="logits")(x)
    return keras.Model(obs, logits, name=POLICY_NAME)


def make_act_fn(model: keras.Model, head: CategoricalHead, greedy: bool = False):
    """A compiled (XLA) `act(obs [N, *obs_shape], seed int64 [2]) -> actions int32 [N]`.

    Sampling is stateless: the same weights, observations and seed give the same actions,
    which makes seeded runs and resumed runs reproduce exactly.
    """
    signature = [tf.TensorSpec([None, *model.input_shape[1:]], tf.float32),
                 tf.TensorSpec([2], tf.int64)]

    @tf.function(input_signature=signature, jit_compile=True)
    def act(obs: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        logits = model(obs, training=False)
        return head.greedy(logits) if greedy else head.sample(logits, seed)

    # Calling the concrete function skips tf.function's argument dispatch, about a third
    # of the per-step cost on CartPole-sized models.
    return act.get_concrete_function()
