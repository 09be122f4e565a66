"""The compiled REINFORCE update: one GradientTape step on a batch of episodes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

from keras_pg.policy import Head, observation_spec
from keras_pg.policy.heads import masked_logits
from keras_pg.policy.recurrent import is_recurrent, over_episodes


class UpdateMetrics(NamedTuple):
    """Statistics of one update, scalar float32 tensors."""

    loss: tf.Tensor
    """The policy loss -mean(log pi(a_t|s_t) * A_t) - entropy_coef * entropy, before the step."""
    entropy: tf.Tensor
    """Mean policy entropy over the batch, nats."""
    grad_norm: tf.Tensor
    """Global norm of the policy gradient before clipping."""
    value_loss: tf.Tensor
    """mean((V(s_t) - G_t)^2) before the first value step (0 without a value baseline)."""


class NonFiniteLossError(RuntimeError):
    """The loss or gradient became NaN or inf; the weights were left untouched."""


NON_FINITE = "non-finite loss or gradient"


@contextmanager
def refusing_non_finite() -> Iterator[None]:
    """Turn the update's failed finiteness check into a one-line NonFiniteLossError."""
    try:
        yield
    except tf.errors.InvalidArgumentError as exc:
        if NON_FINITE not in str(exc):
            raise
        raise NonFiniteLossError(
            "the policy loss or its gradient is NaN/inf; lower --lr or set --max-grad-norm"
        ) from None


def reinforce_loss(head: Head, params: tf.Tensor, actions: tf.Tensor,
                   advantages: tf.Tensor) -> tf.Tensor:
    """Monte Carlo policy-gradient surrogate, -mean_t log pi(a_t|s_t) * A_t.

    Its gradient is the REINFORCE estimator (Williams 1992) of -grad J averaged over the M
    transitions. Shapes: params [M, P] (the policy's output), actions [M] or [M, d],
    advantages float [M] (normalized returns or G - V, treated as constants).
    """
    log_probs = head.log_prob(params, actions)
    return -tf.reduce_mean(log_probs * tf.stop_gradient(advantages))


class UpdateStep:
    """The compiled update `step(obs [M, ...], actions [M, ...], advantages [M], returns [M],
    cells [M, 2])`, cells being (step, episode) of each transition: a recurrent model runs
    over each whole episode from its first step (`keras_pg.policy.recurrent.over_episodes`);
    a feed-forward one ignores them. A `masked` step also takes the invalid-action masks
    bool [M, P] the actions were taken under: log-probabilities and entropy are then over
    the legal actions only (`heads.masked_logits`).

    The batch dimension M is unknown in the input signature, so batches of any size reuse
    one trace (`trace_count` stays 1). The policy optimizer applies the gradient of the
    REINFORCE loss minus `entropy_coef` times the mean entropy, clipped to `max_grad_norm`
    if set; with a `value` model, its optimizer then fits V(s) to the returns with
    `value_epochs` full-batch steps. A non-finite loss or gradient raises NonFiniteLossError
    before the weights it would change are touched.
    """

    def __init__(self, model: keras.Model, head: Head, optimizer: keras.optimizers.Optimizer,
                 max_grad_norm: float | None = None, entropy_coef: float = 0.0,
                 value: keras.Model | None = None,
                 value_optimizer: keras.optimizers.Optimizer | None = None,
                 value_epochs: int = 1, masked: bool = False) -> None:
        self.model, self.head, self.optimizer = model, head, optimizer
        self.masked = masked
        self.max_grad_norm = max_grad_norm
        # A variable, so that a schedule changes it without retracing.
        self.entropy_coef = tf.Variable(float(entropy_coef), trainable=False,
                                        name="entropy_coef")
        self.value, self.value_optimizer, self.value_epochs = value, value_optimizer, value_epochs
        optimizer.build(model.trainable_variables)
        if value is not None:
            assert value_optimizer is not None, "a value model needs its value_optimizer"
            value_optimizer.build(value.trainable_variables)
        signature = [
            observation_spec(model, name="obs"),
            head.action_spec,
            tf.TensorSpec([None], tf.float32, name="advantages"),
            tf.TensorSpec([None], tf.float32, name="returns"),
            tf.TensorSpec([None, 2], tf.int32, name="cells"),
            *([tf.TensorSpec([None, head.params_size], tf.bool, name="masks")] if masked
              else []),
        ]
        # autograph=False: plain TensorFlow ops, nothing for autograph to convert, and
        # converting costs more than tracing.
        self._step = tf.function(self.update_fn, input_signature=signature, autograph=False)

    @property
    def trace_count(self) -> int:
        """How many times the update has been traced (1 after the first call)."""
        return self._step.experimental_get_tracing_count()

    def __call__(self, obs: tf.Tensor | np.ndarray, actions: tf.Tensor | np.ndarray,
                 advantages: tf.Tensor | np.ndarray,
                 returns: tf.Tensor | np.ndarray | None = None,
                 cells: tf.Tensor | np.ndarray | None = None,
                 masks: tf.Tensor | np.ndarray | None = None) -> UpdateMetrics:
        if returns is None:
            returns = advantages
        if cells is None:
            assert not is_recurrent(self.model), "a recurrent model's update needs the cells"
            cells = np.zeros((len(advantages), 2), np.int32)
        assert (masks is not None) == self.masked, "masks go to a masked UpdateStep only"
        with refusing_non_finite():
            return self._step(obs, actions, advantages, returns, cells,
                              *([] if masks is None else [masks]))

    def update_fn(self, obs: tf.Tensor, actions: tf.Tensor, advantages: tf.Tensor,
                  returns: tf.Tensor, cells: tf.Tensor | None = None,
                  masks: tf.Tensor | None = None) -> UpdateMetrics:
        """The update's TensorFlow ops, for use inside another compiled function (cells:
        None for a feed-forward model; masks: None without invalid-action masks)."""
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            params = over_episodes(self.model, obs, cells, training=True)
            if masks is not None:
                params = masked_logits(params, masks)
            entropy = tf.reduce_mean(self.head.entropy(params))
            loss = reinforce_loss(self.head, params, actions, advantages)
            loss -= self.entropy_coef * entropy
        grads = tape.gradient(loss, variables)
        grad_norm = tf.linalg.global_norm(grads)
        finite = tf.debugging.check_numerics(loss + grad_norm, NON_FINITE)
        # The policy steps first: the advantages were computed with the value network as it
        # was when the batch was collected.
        if self.max_grad_norm is not None:
            grads, _ = tf.clip_by_global_norm(grads, self.max_grad_norm, use_norm=grad_norm)
        with tf.control_dependencies([finite]):
            self.optimizer.apply_gradients(zip(grads, variables, strict=True))
        value_loss = tf.constant(0.0)
        value, value_optimizer = self.value, self.value_optimizer
        if value is not None and value_optimizer is not None:  # __init__ checked the pair
            for epoch in range(self.value_epochs):
                value_variables = value.trainable_variables
                with tf.GradientTape() as value_tape:
                    loss_v = tf.reduce_mean(tf.square(
                        over_episodes(value, obs, cells, training=True) - returns))
                value_grads = value_tape.gradient(loss_v, value_variables)
                finite = tf.debugging.check_numerics(
                    loss_v + tf.linalg.global_norm(value_grads), NON_FINITE)
                with tf.control_dependencies([finite]):
                    value_optimizer.apply_gradients(zip(value_grads, value_variables,
                                                        strict=True))
                if epoch == 0:
                    value_loss = loss_v
        return UpdateMetrics(loss, entropy, grad_norm, value_loss)
