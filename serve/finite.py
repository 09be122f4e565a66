"""Policy outputs that are NaN or inf: the error every runtime raises instead of acting on
them, naming the observation at fault."""

from __future__ import annotations

import numpy as np

from serve import contract
from serve.observations import all_finite


class NonFiniteOutputError(ValueError):
    """The policy computed NaN or inf for finite observations (they overflow its network):
    a result no caller should act on, so it is an error rather than action 0."""


def check_finite(names: list[str], values: list[np.ndarray],
                 batch: dict[str, np.ndarray]) -> None:
    """A NonFiniteOutputError for the first of the outputs `names` whose float `values` hold
    NaN or inf, for the graph's inputs `batch`."""
    for name, value in zip(names, values, strict=True):
        if value.dtype.kind == "f" and not all_finite(value):
            raise not_finite(name, value, batch)


def not_finite(name: str, value: np.ndarray, batch: np.ndarray | dict[str, np.ndarray]
               ) -> NonFiniteOutputError:
    """The error for output `name` holding NaN or inf: which observation, and the likely
    cause (observations far outside the range the policy was trained on). `batch`: the
    observations [B, ...], or {part: [B, ...]}."""
    rows = ~np.isfinite(value.reshape(len(value), -1)).all(axis=1)
    first = int(np.argmax(rows))
    parts = ([part for name, part in batch.items() if name != contract.ACTION_MASK]
             if isinstance(batch, dict) else [batch])
    largest = max(float(np.abs(part[first].astype(np.float64)).max(initial=0.0))
                  for part in parts)
    return NonFiniteOutputError(
        f"policy output {name!r} is NaN or inf for observation {first} (of {len(value)}), "
        f"whose largest |value| is {largest:.3g}: the observations overflow the network; "
        "expected observations in the range the policy was trained on")
