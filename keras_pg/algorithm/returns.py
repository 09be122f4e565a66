"""Discounted reward-to-go: pure numpy functions (normalization is in `advantages.py`).

REINFORCE (Williams 1992) weights log pi(a_t | s_t) by the return that follows the action,
G_t = sum_k gamma^k r_{t+k+1}; here r_{t+1} is the reward the environment returned for a_t,
stored at index t.
"""

from __future__ import annotations

import numpy as np


def reward_to_go(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """Discounted return from every step of one episode.

    Args:
        rewards: float [T], the reward received after each action of the episode.
        gamma: discount factor in [0, 1].

    Returns:
        float32 [T] with G_t = r_t + gamma * G_{t+1} and G_{T-1} = r_{T-1}.
        Example: [1, 1, 1] with gamma 0.5 gives [1.75, 1.5, 1.0].
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    dones = np.zeros((rewards.shape[0], 1), dtype=bool)
    return discounted_returns(rewards[:, None], dones, gamma)[:, 0]


def discounted_returns(rewards: np.ndarray, dones: np.ndarray, gamma: float) -> np.ndarray:
    """Reward-to-go for N parallel streams of back-to-back episodes.

    An episode ends at step t when dones[t] is true (terminated or truncated); nothing after
    it flows back into it. A stream's last step always ends what is left, so pass only
    complete episodes. Truncation is treated as the end of the episode, as in the article;
    `truncation_discounts` gives what continues a truncated return with a value estimate.

    Args:
        rewards: float [T, N].
        dones: bool [T, N], true on the last step of an episode.
        gamma: discount factor in [0, 1].

    Returns:
        float32 [T, N] of G_t computed in float64.
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    continues = ~np.asarray(dones, dtype=bool)
    returns = np.empty_like(rewards)
    following = np.zeros(rewards.shape[1:], dtype=np.float64)
    for t in range(rewards.shape[0] - 1, -1, -1):
        following = rewards[t] + gamma * following * continues[t]
        returns[t] = following
    return returns.astype(np.float32)


def truncation_discounts(truncated: np.ndarray, dones: np.ndarray, gamma: float) -> np.ndarray:
    """The weight of V(s_T) in the return of every step of an episode a time limit cut off.

    A time limit is not part of the task: the return of step t of an episode truncated after
    its step T - 1 continues as G_t + gamma^(T - t) V(s_T) (Pardo et al. 2018, "Time Limits
    in Reinforcement Learning"), where s_T is the observation it was cut off in. Terminated
    episodes get 0 (nothing follows a terminal state).

    Args:
        truncated: bool [T, N], true on the last step of a truncated (not terminated) episode.
        dones: bool [T, N], true on the last step of every episode.
        gamma: discount factor in [0, 1].

    Returns:
        float32 [T, N], gamma^(T - t) within truncated episodes, 0 elsewhere. Example: one
        episode of 3 steps, truncated, gamma 0.5 -> [0.125, 0.25, 0.5].
    """
    return discounted_returns(np.where(truncated, gamma, 0.0), dones, gamma)
