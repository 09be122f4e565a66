"""A recurrent policy's state as callers pass it: checked, with one-line errors.

The contract (serve/contract.json, "state") makes every runtime stateless: a caller passes
the state after the episode's previous step (the initial state, zeros, at its first step)
and receives the state after this one. One observation takes a state [S], a batch of B
observations one state per row [B, S].
"""

from __future__ import annotations

from typing import Any

import numpy as np

MISSING = ("this policy is recurrent: pass its state (initial_state() at an episode's first "
           "step, then the state the previous step returned)")
UNEXPECTED = "this policy is feed-forward: it takes no state"
STATE_NOT_FINITE = "state holds NaN or inf; expected the state a previous step returned"


def missing_in_request(where: str, returned: str) -> str:
    """MISSING as a service words it: the request carries the state in `where` (the /v1
    field, a v2 input), the answer `returned` it."""
    return (f"this policy is recurrent: send {where} (zeros at an episode's first step, then "
            f"{returned})")


def unexpected_in_request(where: str) -> str:
    """UNEXPECTED as a service words it: the request carries a state in `where`."""
    return f"{UNEXPECTED}; leave {where} out"


def initial_state(size: int, batch: int | None = None) -> np.ndarray:
    """Zeros, float32 [size] for one episode, or [batch, size] for `batch` of them."""
    return np.zeros((size,) if batch is None else (batch, size), np.float32)


def as_state(state: Any, size: int, rows: int, single: bool) -> np.ndarray:
    """float32 [rows, size]: `state` ([size] for a single observation, [rows, size] for a
    batch of `rows`), or a ValueError in one line saying what was expected."""
    if state is None:
        raise ValueError(MISSING)
    expected = (size,) if single else (rows, size)
    try:
        array = np.asarray(state, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"state must be numbers of shape {expected}; got "
                         f"{type(state).__name__}") from None
    if array.shape != expected:
        what = "one observation" if single else f"a batch of {rows}"
        raise ValueError(f"state must have shape {expected} for {what} (state_size {size}); "
                         f"got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(STATE_NOT_FINITE)
    return array.reshape(rows, size)


def check_no_state(state: Any) -> None:
    """A ValueError in one line when a feed-forward policy is given a state."""
    if state is not None:
        raise ValueError(f"{UNEXPECTED} (got {type(state).__name__}; pass deterministic= by "
                         f"keyword)")


class Episode:
    """A policy acting through one episode (or `batch` episodes in lockstep), keeping a
    recurrent policy's state from one call to the next (`OnnxPolicy.episode()`).

        episode = policy.episode()
        obs, _ = env.reset()
        while not done:
            obs, reward, terminated, truncated, _ = env.step(episode.act(obs))
    """

    def __init__(self, policy: Any, batch: int | None = None,
                 deterministic: bool = True) -> None:
        self.policy, self.batch, self.deterministic = policy, batch, deterministic
        self.state = (None if policy.state_size is None
                      else initial_state(policy.state_size, batch))

    def act(self, obs: Any, action_mask: Any = None) -> Any:
        """The policy's action(s) for the episode's next observation(s), under their
        `action_mask` if given."""
        if self.state is None:
            return self.policy.act(obs, deterministic=self.deterministic,
                                   action_mask=action_mask)
        action, self.state = self.policy.act(obs, self.state, deterministic=self.deterministic,
                                             action_mask=action_mask)
        return action

    def reset(self, rows: Any = None) -> None:
        """Start again from the initial state: every episode, or the `rows` of a batch
        (indices or a bool mask) whose episodes have just started."""
        if self.state is None:
            return
        if rows is None:
            self.state = initial_state(self.policy.state_size, self.batch)
        else:
            self.state = self.state.copy()
            self.state[rows] = 0.0
