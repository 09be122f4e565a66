import numpy as np
import pytest

from keras_pg.algorithm.advantages import normalize
from keras_pg.algorithm.returns import discounted_returns, reward_to_go, truncation_discounts


def naive_reward_to_go(rewards, gamma):
    """The article's double loop (Yoon 2018), the reference for the vectorized version."""
    out = []
    for t in range(len(rewards)):
        out.append(sum(gamma**k * r for k, r in enumerate(rewards[t:])))
    return np.array(out)


def test_hand_computed_example():
    np.testing.assert_allclose(reward_to_go([1, 1, 1], 0.5), [1.75, 1.5, 1.0])
    np.testing.assert_allclose(reward_to_go([0, 0, 4], 0.5), [1.0, 2.0, 4.0])
    np.testing.assert_allclose(reward_to_go([2, -1, 3], 1.0), [4.0, 2.0, 3.0])
    np.testing.assert_allclose(reward_to_go([5, 7], 0.0), [5.0, 7.0])


@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.9, 0.99, 1.0])
def test_matches_naive_loop(gamma):
    rewards = np.random.default_rng(0).normal(size=57)
    np.testing.assert_allclose(reward_to_go(rewards, gamma), naive_reward_to_go(rewards, gamma),
                               rtol=1e-5, atol=1e-5)


def test_episodes_back_to_back_do_not_leak():
    # Column 0: episodes [1, 2] and [3]; column 1: one episode [1, 1, 1].
    rewards = np.array([[1, 1], [2, 1], [3, 1]], dtype=np.float32)
    dones = np.array([[False, False], [True, False], [True, True]])
    out = discounted_returns(rewards, dones, 0.5)
    np.testing.assert_allclose(out[:, 0], [2.0, 2.0, 3.0])
    np.testing.assert_allclose(out[:, 1], [1.75, 1.5, 1.0])


def test_truncation_discounts_hand_computed():
    # Column 0: an episode of 3 steps cut off by a time limit, then one of 2 that terminated;
    # column 1: one episode of 5 steps, cut off.
    dones = np.array([[0, 0], [0, 0], [1, 0], [0, 0], [1, 1]], dtype=bool)
    truncated = np.array([[0, 0], [0, 0], [1, 0], [0, 0], [0, 1]], dtype=bool)
    out = truncation_discounts(truncated, dones, 0.5)
    np.testing.assert_allclose(out[:, 0], [0.125, 0.25, 0.5, 0.0, 0.0])
    np.testing.assert_allclose(out[:, 1], [0.03125, 0.0625, 0.125, 0.25, 0.5])
    # gamma 1: V(s_T) counts in full at every step of the cut episode.
    np.testing.assert_allclose(truncation_discounts(truncated, dones, 1.0)[:, 0], [1, 1, 1, 0, 0])


def test_normalize_standardizes():
    x = normalize(np.array([1.0, 2.0, 3.0, 4.0]), 1e-8).numpy()
    assert abs(x.mean()) < 1e-6
    np.testing.assert_allclose(x.std(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(x, (np.arange(4) - 1.5) / np.sqrt(1.25), rtol=1e-6)


@pytest.mark.parametrize("values", [[1.0], [3.0, 3.0, 3.0], [0.0] * 10])
def test_normalize_is_finite_when_std_is_zero(values):
    x = normalize(np.array(values), 1e-8).numpy()
    assert np.all(np.isfinite(x))
    np.testing.assert_array_equal(x, 0.0)
