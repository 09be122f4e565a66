"""The compiled REINFORCE update: one GradientTape step on a batch of episodes."""

from __future__ import annotations

from typing import NamedTuple

import keras
import tensorflow as tf

from keras_pg.policy import CategoricalHead


class UpdateMetrics(NamedTuple):
    """Statistics of one update, scalar float32 tensors."""

    loss: tf.Tensor
    """-mean(log pi(a_t|s_t) * G_hat_t) before the step."""
    entropy: tf.Tensor
    """Mean policy entropy over the batch, nats."""
    grad_norm: tf.Tensor
    """Global norm of the gradient before clipping."""


class NonFiniteLossError(RuntimeError):
    """The loss or gradient became NaN or inf; the weights were left untouched."""


def reinforce_loss(head: CategoricalHead, logits: tf.Tensor, actions: tf.Tensor,
                   advantages: tf.Tensor) -> tf.Tensor:
    """Monte Carlo policy-gradient surrogate, -mean_t log pi(a_t|s_t) * A_t.

    Its gradient is the REINFORCE estimator (Williams 1992) of -grad J averaged over the M
    transitions. Shapes: logits [M, A], actions int [M], advantages float [M]
    (the normalized returns, treated as constants).
    """
    log_probs = head.log_prob(logits, actions)
    return -tf.reduce_mean(log_probs * tf.stop_gradient(advantages))


class UpdateStep:
    """The compiled update `step(obs [M, *obs_shape], actions [M], advantages [M])`.

    The batch dimension M is unknown in the input signature, so batches of any size reuse
    one trace (`trace_count` stays 1). Adam (or the given optimizer) applies the gradient,
    clipped to `max_grad_norm` if set. A non-finite loss or gradient raises
    NonFiniteLossError before the optimizer touches the weights.
    """

    def __init__(self, model: keras.Model, head: CategoricalHead,
                 optimizer: keras.optimizers.Optimizer, max_grad_norm: float | None = None):
        self.model = model
        self.head = head
        self.optimizer = optimizer
        self.max_grad_norm = max_grad_norm
        optimizer.build(model.trainable_variables)
        signature = [
            tf.TensorSpec([None, *model.input_shape[1:]], tf.float32, name="obs"),
            tf.TensorSpec([None], tf.int32, name="actions"),
            tf.TensorSpec([None], tf.float32, name="advantages"),
        ]
        self._step = tf.function(self._update, input_signature=signature)

    @property
    def trace_count(self) -> int:
        """How many times the update has been traced (1 after the first call)."""
        return self._step.experimental_get_tracing_count()

    def __call__(self, obs: tf.Tensor, actions: tf.Tensor, advantages: tf.Tensor) -> UpdateMetrics:
        try:
            return self._step(obs, actions, advantages)
        except tf.errors.InvalidArgumentError as exc:
            if "non-finite loss or gradient" not in str(exc):
                raise
            raise NonFiniteLossError(
                "the policy loss or its gradient is NaN/inf; lower --lr or set --max-grad-norm"
            ) from None

    def _update(self, obs: tf.Tensor, actions: tf.Tensor, advantages: tf.Tensor) -> UpdateMetrics:
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            logits = self.model(obs, training=True)
            loss = reinforce_loss(self.head, logits, actions, advantages)
        grads = tape.gradient(loss, variables)
        grad_norm = tf.linalg.global_norm(grads)
        finite = tf.debugging.check_numerics(loss + grad_norm, "non-finite loss or gradient")
        if self.max_grad_norm is not None:
            grads, _ = tf.clip_by_global_norm(grads, self.max_grad_norm, use_norm=grad_norm)
        with tf.control_dependencies([finite]):
            self.optimizer.apply_gradients(zip(grads, variables, strict=True))
        return UpdateMetrics(loss, tf.reduce_mean(self.head.entropy(logits)), grad_norm)
