"""Finding the policy to export: a run directory, a .keras file, a keras.Model, or an agent.

Everything export needs about the policy is in a PolicySource: the model, the spaces, the
training config and summary, and observations met in training. A run directory supplies
all of them (spaces.json, observations.npy), so exporting it needs no environment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import keras
import numpy as np

import keras_pg  # noqa: F401  (registers keras_pg's custom objects before loading)
from keras_pg import run_dir as rd
from keras_pg.config import ConfigError
from keras_pg.envs import EnvSource, check_env_id
from keras_pg.policy import POLICY_NAME
from keras_pg.spaces import space_from_description


class ExportError(ValueError):
    """A user's export request cannot be carried out; the message is one line."""


@dataclass(frozen=True)
class PolicySource:
    """A trained policy and what is known about its training."""

    model: keras.Model
    config: dict[str, Any] | None
    """The training Config as a dict (env_id, env_kwargs, max_episode_steps, ...)."""
    summary: dict[str, Any] | None
    run_dir: Path | None
    observation_space: gym.Space
    action_space: gym.Space
    observations: np.ndarray | None = None
    """[n, *obs_shape] observations met in training, for verification (None: none kept)."""

    @property
    def env_id(self) -> str | None:
        return (self.config or {}).get("env_id")


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as exc:
        raise ExportError(f"{path} is not valid JSON ({exc.msg})") from None


def load_source(source: keras.Model | str | Path, env_id: str | None = None) -> PolicySource:
    """Resolve a keras.Model, a run directory, or a `model.keras` file into a PolicySource.

    A run directory (or a .keras file inside one) supplies the config, spaces, summary and
    observations; a bare model or file needs `env_id` (its env is created for the spaces).
    """
    if isinstance(source, keras.Model):
        check_policy(source, "the given model")
        if env_id is None:
            raise ExportError("exporting a keras.Model needs env_id (the gymnasium id)")
        return _from_env(source, {"env_id": env_id}, None, None)
    path = Path(source)
    if not path.exists():
        raise ExportError(f"{path} not found; expected a run directory or a .keras file")
    run_dir, model_path = (path, path / rd.MODEL) if path.is_dir() else (path.parent, path)
    if not model_path.exists():
        raise ExportError(f"{model_path} not found; expected a keras_pg run directory")
    config = _read_json(run_dir / rd.CONFIG)
    if env_id is not None:
        config = {**(config or {}), "env_id": env_id}
    if config is None:
        raise ExportError(f"no config.json beside {model_path}; pass --env with the env id")
    model = _load_model(model_path)
    summary = _read_json(run_dir / rd.SUMMARY)
    spaces = _read_json(run_dir / rd.SPACES)
    if spaces is None or env_id is not None:
        return _from_env(model, config, summary, run_dir)
    observations = (np.load(run_dir / rd.OBSERVATIONS) if (run_dir / rd.OBSERVATIONS).exists()
                    else None)
    return PolicySource(model, config, summary, run_dir,
                        space_from_description(spaces["observation_space"]),
                        space_from_description(spaces["action_space"]), observations)


def _from_env(model: keras.Model, config: dict[str, Any], summary: dict | None,
              run_dir: Path | None) -> PolicySource:
    """A PolicySource whose spaces come from creating the env (no spaces.json)."""
    env = make_env(config)
    env.close()
    return PolicySource(model, config, summary, run_dir, env.observation_space,
                        env.action_space)


def make_env(config: dict[str, Any]) -> gym.Env:
    """The env of a training config (id, env_kwargs, max_episode_steps), or ExportError."""
    try:
        check_env_id(config["env_id"])
        return EnvSource(config["env_id"], config.get("env_kwargs") or {},
                         config.get("max_episode_steps")).make()
    except ConfigError as exc:
        raise ExportError(f"cannot create env {config['env_id']!r}: {exc}") from None


def _load_model(model_path: Path) -> keras.Model:
    try:
        model = keras.models.load_model(model_path)
    except Exception as exc:  # Keras raises many types for a file it cannot read
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"cannot load {model_path} as a Keras model: {reason}") from None
    check_policy(model, str(model_path))
    return model


def check_policy(model: keras.Model, where: str) -> None:
    """Raise ExportError unless `model` is a keras_pg policy (one input, one output)."""
    if model.name != POLICY_NAME or len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ExportError(
            f"{where} is not a keras_pg policy: expected a functional model named "
            f"{POLICY_NAME!r} with one input and one output, got {model.name!r} with "
            f"{len(model.inputs)} input(s) and {len(model.outputs)} output(s)")
