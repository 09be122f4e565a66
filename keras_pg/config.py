"""The one training configuration: a frozen dataclass, validated once at construction.

The command line is generated from these fields (see `cli.py`), so every flag, its default
and its help text come from here.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from typing import Any


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


class ConfigError(ValueError):
    """A user's setting is invalid; the message is one line saying what was expected."""


def _doc(text: str, **kwargs: Any) -> Any:
    return field(metadata={"help": text}, **kwargs)


@dataclass(frozen=True)
class Config:
    """Everything that determines a training run (saved as `config.json` in the run directory)."""

    env_id: str = _doc("gymnasium environment id", default="CartPole-v1")
    backend: str = _doc(
        "gym: gymnasium vector envs; graph: the env in TensorFlow ops with rollout, returns and "
        "update in one compiled function per iteration (CartPole-v1 only; episodes per update = "
        "num envs)", default="gym")
    seed: int = _doc("seeds the environments, TensorFlow and numpy", default=0)
    num_envs: int = _doc("environments stepped together through gymnasium's vector API", default=64)
    episodes_per_update: int = _doc("complete episodes per policy-gradient update", default=64)
    gamma: float = _doc("discount factor in [0, 1]", default=0.99)
    lr: float = _doc("Adam learning rate", default=0.03)
    hidden: tuple[int, ...] = _doc("hidden layer widths, comma separated", default=(128,))
    baseline: str = _doc(
        "none: plain REINFORCE; value: subtract a learned state value V(s) from the returns",
        default="none")
    value_lr: float = _doc("Adam learning rate of the value network (--baseline value)",
                           default=1e-3)
    value_epochs: int = _doc("full-batch value-network steps per update (--baseline value)",
                             default=10)
    entropy_coef: float = _doc("weight of the entropy bonus in the policy loss", default=0.0)
    normalize_obs: bool = _doc(
        "normalize Box observations by running mean/std, inside the model", default=False)
    initial_log_std: float = _doc("initial log-std of a Gaussian policy (Box actions)",
                                  default=0.0)
    max_grad_norm: float | None = _doc(
        "clip gradients to this global norm (none: no clipping)", default=None
    )
    return_eps: float = _doc(
        "epsilon added to the std when normalizing returns (keeps std 0 finite)", default=1e-8
    )
    max_steps: int = _doc("training budget in environment steps", default=1_000_000)
    target_return: float | None = _doc(
        "stop when the last-100 training mean reaches this (none: the env's reward_threshold)",
        default=None,
    )
    solve_window: int = _doc("episodes in the moving mean that decides solving", default=100)
    eval_episodes: int = _doc("greedy evaluation episodes after training", default=100)

    def __post_init__(self) -> None:
        for problem in itertools.chain(self._choice_problems(), self._number_problems()):
            raise ConfigError(problem)  # the first one, in one line

    def _choice_problems(self):
        if not isinstance(self.env_id, str) or not self.env_id:
            yield f"env_id must be a gym id such as CartPole-v1, got {self.env_id!r}"
        if self.baseline not in ("none", "value"):
            yield f"baseline must be 'none' or 'value', got {self.baseline!r}"
        if self.backend not in ("gym", "graph"):
            yield f"backend must be 'gym' or 'graph', got {self.backend!r}"
        if self.backend == "graph" and self.episodes_per_update != self.num_envs:
            yield (f"with backend graph every env plays one episode per update: "
                   f"episodes_per_update ({self.episodes_per_update}) must equal num_envs "
                   f"({self.num_envs})")
        for name in ("num_envs", "episodes_per_update", "value_epochs", "max_steps",
                     "solve_window", "eval_episodes"):
            if not _positive_int(getattr(self, name)):
                yield f"{name} must be a positive integer, got {getattr(self, name)!r}"
        if not self.hidden or not all(_positive_int(w) for w in self.hidden):
            yield f"hidden must be positive layer widths like 128 or 128,128, got {self.hidden!r}"

    def _number_problems(self):
        if not 0.0 <= self.gamma <= 1.0:
            yield f"gamma must be in [0, 1], got {self.gamma}"
        for name in ("lr", "value_lr", "return_eps"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                yield f"{name} must be a positive number, got {value}"
        if not (self.entropy_coef >= 0 and math.isfinite(self.entropy_coef)):
            yield f"entropy_coef must be >= 0, got {self.entropy_coef}"
        for name in ("initial_log_std", "target_return"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                yield f"{name} must be a finite number, got {value}"
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            yield f"max_grad_norm must be positive or none, got {self.max_grad_norm}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        items = dataclasses.asdict(self).items()
        return {k: list(v) if isinstance(v, tuple) else v for k, v in items}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        """Inverse of `to_dict`; unknown keys are an error naming them."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown config keys {unknown}; expected some of {sorted(names)}")
        values = dict(data)
        if "hidden" in values:
            values["hidden"] = tuple(values["hidden"])
        return cls(**values)


# Presets are partial configs; flags given on the command line override them. The
# per-environment ones are what bench/envs.py measures (results in the README).
PRESETS: dict[str, dict[str, Any]] = {
    # The defaults: 64 envs, 64 episodes per update, Adam 0.03, gamma 0.99, hidden 128.
    "CartPole-v1": {"env_id": "CartPole-v1"},
    # Episodes of up to 500 steps: fewer, more frequent updates.
    # Training goes on to a last-100 mean of -85 so that the greedy policy clears -100. While
    # every episode hits the time limit, normalized returns only encode the time step and
    # push the policy towards a deterministic one that may never find the goal: an entropy
    # bonus keeps it exploring (without it seeds 2 of 0-4 stayed at -500).
    "Acrobot-v1": {"env_id": "Acrobot-v1", "num_envs": 16, "episodes_per_update": 16,
                   "lr": 0.01, "entropy_coef": 0.02, "max_steps": 300_000,
                   "target_return": -85.0},
    # The same environments in TensorFlow ops (--backend graph).
    # Many envs per iteration: an iteration costs about the same for 64 or 256 envs.
    "CartPole-v1-graph": {"env_id": "CartPole-v1", "backend": "graph", "num_envs": 256,
                          "episodes_per_update": 256},
    "Acrobot-v1-graph": {"env_id": "Acrobot-v1", "backend": "graph", "num_envs": 32,
                         "episodes_per_update": 32, "lr": 0.01, "entropy_coef": 0.02,
                         "max_steps": 1_000_000, "target_return": -90.0},
    # Long, high-variance episodes: a value baseline, normalized observations, two layers.
    "LunarLander-v3": {"env_id": "LunarLander-v3", "num_envs": 32, "episodes_per_update": 32,
                       "lr": 0.001, "hidden": (128, 128), "baseline": "value",
                       "normalize_obs": True, "max_steps": 5_000_000},
    # Dense rewards, no termination: a shorter horizon (gamma 0.95) and a value baseline.
    "Pendulum-v1": {"env_id": "Pendulum-v1", "num_envs": 32, "episodes_per_update": 32,
                    "lr": 0.003, "gamma": 0.95, "baseline": "value", "normalize_obs": True,
                    "max_steps": 2_000_000},
    # Slippery 4x4: a sparse 0/1 reward. The value baseline credits the states that lead to
    # the goal, the entropy bonus avoids an early deterministic policy, and training goes
    # on to a last-100 success of 0.8 so that the greedy policy is near the optimum; success
    # is judged on 1,000 greedy episodes.
    "FrozenLake-v1": {"env_id": "FrozenLake-v1", "lr": 0.01, "baseline": "value",
                      "entropy_coef": 0.01, "target_return": 0.8, "max_steps": 1_000_000,
                      "eval_episodes": 1000},
    # The article's settings (Yoon 2018): one env, one episode per update, gamma 0.9,
    # Adam 3e-4, one hidden layer of 128, CartPole-v0.
    "seed": {
        "env_id": "CartPole-v0",
        "num_envs": 1,
        "episodes_per_update": 1,
        "gamma": 0.9,
        "lr": 3e-4,
        "hidden": (128,),
    },
}
