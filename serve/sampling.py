"""Drawing actions from a policy's outputs with a numpy Generator (pure functions)."""

from __future__ import annotations

import itertools

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of float [B, n]."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def sample_categorical(probs: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """Inverse-CDF sampling: int64 [B] from probs [B, n] and uniform draws [B] in [0, 1).

    Row b's action is the count of its cdf entries <= uniform[b] (serve/js/src/sampling.js
    counts the same): action k needs cdf[k-1] <= u < cdf[k], so an action of probability
    exactly 0 -- a masked one, cdf[k] == cdf[k-1] -- is never drawn, u == 0.0 included."""
    cdf = np.cumsum(probs, axis=1, dtype=np.float64)
    cdf /= cdf[:, -1:]
    return np.minimum((uniform[:, None] >= cdf).sum(axis=1), probs.shape[1] - 1).astype(np.int64)


def sample_gaussian(mean: np.ndarray, std: np.ndarray, normal: np.ndarray,
                    low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """mean + std * normal, clipped to [low, high]: float32 [B, d]."""
    return np.clip(mean + std * normal, low, high).astype(np.float32)


def sample_multi_categorical(probs: np.ndarray, nvec: list[int] | tuple[int, ...],
                             uniform: np.ndarray) -> np.ndarray:
    """One action per branch: int64 [B, k] from the branches' probs side by side
    [B, sum(nvec)] and uniform draws [B, k] in [0, 1) (inverse-CDF sampling per branch)."""
    bounds = np.cumsum((0, *nvec))
    return np.stack([sample_categorical(probs[:, a:b], uniform[:, i]) for i, (a, b)
                     in enumerate(itertools.pairwise(bounds))], axis=1)


def sample_bernoulli(probs: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """Bits, int64 [B, n]: 1 where the uniform draw [B, n] in [0, 1) is below P(1) [B, n]."""
    return (uniform < probs).astype(np.int64)
