"""gymnasium's transitions for the JavaScript env ports (serve/js/src/envs/), as a fixture.

From random float64 states -- reaching the termination regions, the velocity bounds, the
angle wrapping and the torque clipping -- and random actions, one gymnasium step each: the
next state, observation, reward and termination (and for Taxi-v4, whose state is gymnasium's
integer, the action mask its info carries). serve/js/test/envs.test.js replays them.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np

TRANSITIONS_PER_ENV = 200


def cartpole(rng: np.random.Generator, n: int) -> tuple[np.ndarray, list]:
    """States around the thresholds (|x| 2.4, |theta| 0.2094) as well as inside."""
    states = rng.uniform([-2.45, -3, -0.22, -3], [2.45, 3, 0.22, 3], size=(n, 4))
    return states, rng.integers(0, 2, n).tolist()


def acrobot(rng: np.random.Generator, n: int) -> tuple[np.ndarray, list]:
    """Any angles; velocities up to and beyond the bounds (4 pi, 9 pi)."""
    states = rng.uniform([-math.pi, -math.pi, -15, -30], [math.pi, math.pi, 15, 30], (n, 4))
    return states, rng.integers(0, 3, n).tolist()


def pendulum(rng: np.random.Generator, n: int) -> tuple[np.ndarray, list]:
    """Angles over two turns either way, speeds to the bound, torques beyond the clip (2)."""
    states = rng.uniform([-4 * math.pi, -8], [4 * math.pi, 8], (n, 2))
    torques = rng.uniform(-3, 3, n).astype(np.float32)
    return states, [[float(t)] for t in torques]


def taxi(rng: np.random.Generator, n: int) -> tuple[np.ndarray, list]:
    """Any of the 500 states, half of them with the taxi at a stand and half with the
    passenger in it; a third of the actions pickups and a third drop-offs, so that both
    succeed (and end the episode) as well as fail."""
    stands = np.array([(0, 0), (0, 4), (4, 0), (4, 3)])
    cells = np.where(rng.random((n, 1)) < 0.5, stands[rng.integers(0, 4, n)],
                     rng.integers(0, 5, (n, 2)))
    passengers = np.where(rng.random(n) < 0.5, 4, rng.integers(0, 4, n))
    states = ((cells[:, 0] * 5 + cells[:, 1]) * 5 + passengers) * 4 + rng.integers(0, 4, n)
    kinds = rng.integers(0, 3, n)
    actions = np.where(kinds == 0, rng.integers(0, 4, n), 3 + kinds)
    return states[:, None], actions.tolist()


ENVS = {"CartPole-v1": cartpole, "Acrobot-v1": acrobot, "Pendulum-v1": pendulum, "Taxi-v4": taxi}


def step_from(env: gym.Env, state: np.ndarray, action) -> dict:
    """One gymnasium step of `env` (unwrapped) from `state` (Taxi's: [its integer])."""
    if env.spec is not None and env.spec.id == "Taxi-v4":
        env.s = int(state[0])
        obs, reward, terminated, _, info = env.step(action)
        return {"next_state": [env.s], "observation": int(obs), "reward": float(reward),
                "terminated": bool(terminated), "action_mask": info["action_mask"].tolist()}
    env.state = np.array(state, dtype=np.float64)
    if hasattr(env, "steps_beyond_terminated"):
        env.steps_beyond_terminated = None
    if isinstance(action, list):
        action = np.array(action, dtype=np.float32)
    obs, reward, terminated, _, _ = env.step(action)
    return {"next_state": [float(v) for v in env.state], "observation": [float(v) for v in obs],
            "reward": float(reward), "terminated": bool(terminated)}


def build_transitions(n: int = TRANSITIONS_PER_ENV) -> dict:
    """{env_id: [{state, action, next_state, observation, reward, terminated}, ...]}."""
    result = {}
    for i, (env_id, draw) in enumerate(ENVS.items()):
        env = gym.make(env_id).unwrapped
        env.reset(seed=i)
        states, actions = draw(np.random.default_rng(i), n)
        result[env_id] = [{"state": [v.item() for v in state], "action": action,
                           **step_from(env, state, action)}
                          for state, action in zip(states, actions, strict=True)]
        env.close()
    return result
