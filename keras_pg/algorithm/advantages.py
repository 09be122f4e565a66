"""From returns to the weights of the policy gradient: pure TensorFlow functions, used by
every backend (the gymnasium path calls them compiled, the graph backend inside its
iteration), so the math exists once.

REINFORCE weights log pi(a_t | s_t) by the reward-to-go G_t (Williams 1992); with a value
baseline by A_t = G_t - V(s_t), which keeps the estimator unbiased and lowers its variance
(Sutton & Barto 2018, 13.4); with generalized advantage estimation (`advantage="gae"`) by
the exponentially weighted sum of one-step errors, which trades a little bias for much less
variance (Schulman et al. 2016). Each is then standardized over the whole update batch.
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


def lambda_advantages(rewards: tf.Tensor, values: tf.Tensor, cells: tf.Tensor,
                      end_values: tf.Tensor, gamma: float, lam: float) -> tf.Tensor:
    """Generalized advantage estimates over complete episodes (Schulman et al. 2016).

    With the one-step error delta_t = r_t + gamma V(s_{t+1}) - V(s_t), where V after an
    episode's last step is its `end_values` entry (0 once terminated; V of the state a time
    limit cut it off in, to bootstrap it), A_t = sum_k (gamma lam)^k delta_{t+k} over the
    rest of the episode. lam = 1 gives G_t + gamma^(T-t) V(s_T) - V(s_t): Monte Carlo
    REINFORCE with a value baseline; lam = 0 the one-step actor-critic error. A_t + V(s_t)
    is the lambda-return the value network fits.

    Args:
        rewards: float [M], the reward received after each action.
        values: float [M], V(s_t) of the observation each action was taken in.
        cells: int [M, 2], (t, k): transition t of episode k. Episode k's transitions are
            t = 0 .. T_k - 1, each once, in any order.
        end_values: float [K], V of the state after each episode's last step (0 when it
            terminated).
        gamma: discount factor in [0, 1].
        lam: lambda in [0, 1].

    Returns:
        float32 [M], A_t of each transition, in the order of `cells` (computed in float64).
        Example: one terminated episode with rewards [1, 1], values [0.5, 0.5], gamma 1,
        lam 0.5: delta = [1, 0.5], A = [1.25, 0.5].
    """
    cells = tf.cast(cells, tf.int32)
    num_episodes = tf.shape(end_values)[0]
    shape = tf.stack([tf.reduce_max(cells[:, 0]) + 1, num_episodes])  # [T, K]
    grid = [tf.scatter_nd(cells, tf.cast(x, tf.float64), shape) for x in (rewards, values)]
    rewards_grid, values_grid = grid
    alive = tf.scatter_nd(cells, tf.ones_like(rewards, tf.bool), shape)
    alive_next = tf.concat([alive[1:], tf.zeros_like(alive[:1])], axis=0)
    values_next = tf.concat([values_grid[1:], tf.zeros_like(values_grid[:1])], axis=0)
    values_next = tf.where(alive_next, values_next, tf.cast(end_values, tf.float64)[None, :])
    deltas = tf.where(alive, rewards_grid + gamma * values_next - values_grid, 0.0)
    # Past an episode's end every delta is 0, so nothing flows back across it.
    grid_advantages = tf.scan(lambda following, delta: delta + gamma * lam * following, deltas,
                              initializer=tf.zeros_like(deltas[0]), reverse=True)
    return tf.cast(tf.gather_nd(grid_advantages, cells), tf.float32)
