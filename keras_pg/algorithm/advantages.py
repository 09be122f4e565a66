"""From returns to the weights of the policy gradient: pure TensorFlow functions, used by
every backend (the gymnasium path calls them compiled, the graph backend inside its
iteration), so the math exists once.

REINFORCE weights log pi(a_t | s_t) by the reward-to-go G_t (Williams 1992); with a value
baseline by A_t = G_t - V(s_t), which keeps the estimator unbiased and lowers its variance
(Sutton & Barto 2018, 13.4). Either is then standardized over the whole update batch.
"""

from __future__ import annotations

import tensorflow as tf


def normalize(values: tf.Tensor, eps: float) -> tf.Tensor:
    """(x - mean) / (std + eps) over the batch, computed in float64.

    Args:
        values: float [M].
        eps: keeps the result finite when the std is 0 (a one-step episode or constant
            returns give all zeros instead of NaN).

    Returns:
        float32 [M] with mean 0 and std ~1 (population std).
    """
    values = tf.cast(values, tf.float64)
    mean, variance = tf.nn.moments(values, axes=[0])
    return tf.cast((values - mean) / (tf.sqrt(variance) + eps), tf.float32)


def explained_variance(predicted: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """1 - Var(target - predicted) / Var(target), float32 scalar: 1 is a perfect value
    function, 0 no better than the mean; NaN when the targets have no variance."""
    predicted, target = tf.cast(predicted, tf.float64), tf.cast(target, tf.float64)
    variance = tf.math.reduce_variance(target)
    safe = tf.where(variance > 0, variance, tf.ones_like(variance))
    ratio = tf.math.reduce_variance(target - predicted) / safe
    return tf.cast(tf.where(variance > 0, 1.0 - ratio, float("nan")), tf.float32)


def advantages(returns: tf.Tensor, values: tf.Tensor | None,
               eps: float) -> tuple[tf.Tensor, tf.Tensor]:
    """Normalized advantages float32 [M] and the baseline's explained variance.

    Args:
        returns: float32 [M], the discounted reward-to-go G_t of each action.
        values: float32 [M], V(s_t) from the value network, or None without a baseline
            (then the explained variance is NaN).
        eps: see `normalize`.
    """
    if values is None:
        return normalize(returns, eps), tf.constant(float("nan"))
    return normalize(returns - values, eps), explained_variance(values, returns)
