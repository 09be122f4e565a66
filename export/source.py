"""Finding the policy to export: a run directory, a .keras file, a keras.Model, or an agent.

Everything export needs about the policy is in a PolicySource: the model, the spaces, the
training config and summary, and observations met in training. A run directory supplies
all of them (spaces.json, observations.npy), so exporting it needs no environment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import gymnasium as gym
import keras
import numpy as np

import keras_pg  # REINFORCE; importing it registers keras_pg's custom objects
from export.checks import check_keras_file, check_source
from export.errors import ExportError
from keras_pg.config import ConfigError
from keras_pg.envs import EnvSource, check_env_id, check_spaces
from keras_pg.errors import first_line
from keras_pg.observations import Obs
from keras_pg.policy import POLICY_NAME, is_recurrent, observation_inputs
from keras_pg.run import RunDir, RunDirError
from keras_pg.run import run_dir as rd
from serve import contract
from serve.spaces import is_structured, observation_parts, part_specs, space_from_description

ENV_HINT = "pass the env it was trained on (--env, or env_id=)"
T = TypeVar("T")


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
    observations: Obs | None = None
    """[n, *obs_shape] observations met in training ({part: [n, ...]} for a Dict or Tuple
    observation), for verification (None: none kept)."""
    mask_source: str | None = None
    """Where training read the env's invalid-action masks (`keras_pg.envs.masks.SOURCES`);
    None: it read none."""

    @property
    def env_id(self) -> str | None:
        return (self.config or {}).get("env_id")


def _reading(read: Callable[[], T]) -> T:
    """`read()` of a RunDir, its RunDirError an ExportError (the same line)."""
    try:
        return read()
    except RunDirError as exc:
        raise ExportError(str(exc)) from None


def load_source(source: keras_pg.REINFORCE | keras.Model | str | Path,
                env_id: str | None = None) -> PolicySource:
    """Resolve an agent, a keras.Model, a run directory, or a `model.keras` file into a
    PolicySource.

    An agent, or a run directory (or a .keras file inside one), supplies the config, spaces,
    summary and observations; a bare model or file needs `env_id` (its env is created for
    the spaces).
    """
    if isinstance(source, keras_pg.REINFORCE):
        return _from_agent(source, env_id)
    if isinstance(source, keras.Model):
        check_policy(source, "the given model")
        if env_id is None:
            raise ExportError("exporting a keras.Model needs env_id (the gymnasium id)")
        return _from_env(source, {"env_id": env_id}, None, None, "the given model")
    path = Path(source)
    check_source(path)  # a file source is a readable .keras file from here on
    run = RunDir(path if path.is_dir() else path.parent)
    model_path = run.model_file if path.is_dir() else path
    if path.is_dir():
        if not model_path.exists():
            raise ExportError(f"{model_path} not found; expected a keras_pg run directory")
        check_keras_file(model_path)
    config = _reading(lambda: run.read_if_present(rd.CONFIG))
    if env_id is not None:
        config = {**(config or {}), "env_id": env_id}
    if config is None:
        raise ExportError(f"no config.json beside {model_path}; pass --env with the env id")
    if not config.get("env_id"):
        raise ExportError(f"no env_id in {run.file(rd.CONFIG)}; pass --env with the env id")
    model = _load_model(model_path)
    summary = _reading(run.read_summary)
    spaces = _reading(lambda: run.read_if_present(rd.SPACES))
    if spaces is None or env_id is not None:
        return _from_env(model, config, summary, run.path, str(model_path))
    observation_space, action_space = _saved_spaces(run.file(rd.SPACES), spaces)
    check_model_fits(model, str(model_path), observation_space, action_space,
                     f"{run.file(rd.SPACES)}", "were model.keras and spaces.json copied from "
                     "different runs?")
    return PolicySource(model, config, summary, run.path, observation_space, action_space,
                        _observations(run, observation_space), _mask_source(spaces))


def _from_agent(agent: keras_pg.REINFORCE, env_id: str | None) -> PolicySource:
    if env_id is not None:
        raise ExportError("an agent knows its env: drop env_id")
    return PolicySource(agent.model, agent.config.to_dict(), agent.summary, agent.run_dir,
                        agent.observation_space, agent.action_space, agent.observations_met,
                        agent.env_source.mask_source)


def _saved_spaces(path: Path, spaces: dict[str, Any]) -> tuple[gym.Space, gym.Space]:
    try:
        return (space_from_description(spaces["observation_space"]),
                space_from_description(spaces["action_space"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ExportError(f"{path} is malformed: {first_line(exc)}") from None


def _mask_source(spaces: dict[str, Any]) -> str | None:
    """The masks' source spaces.json records (`keras_pg.envs.masks.mask_description`)."""
    mask = spaces.get(contract.ACTION_MASK_KEY)
    return mask.get("source") if isinstance(mask, dict) else None


def _observations(run: RunDir, space: gym.Space) -> Obs | None:
    """observations.npy (observations.npz, per part), if there is one with the observation
    space's shapes."""
    observations = _reading(run.read_observations)
    if observations is None:
        return None
    specs = part_specs(space)
    file = run.file(rd.PART_OBSERVATIONS if is_structured(space) else rd.OBSERVATIONS)
    parts = observations if isinstance(observations, dict) else {contract.INPUT: observations}
    if set(parts) != set(specs):
        raise ExportError(f"{file} holds the parts {', '.join(parts)}; expected "
                          f"{', '.join(specs)} (the observation space's)")
    for name, part in parts.items():
        expected = specs[name][0]
        if part.ndim < 1 or part.shape[1:] != expected:
            what = "observations" if name == contract.INPUT else f"part {name!r}"
            raise ExportError(f"{file} holds {what} of shape {part.shape[1:]}; expected "
                              f"{expected} (the observation space's)")
    return observations


def _from_env(model: keras.Model, config: dict[str, Any], summary: dict[str, Any] | None,
              run_dir: Path | None, where: str) -> PolicySource:
    """A PolicySource whose spaces come from creating the env (no spaces.json)."""
    env = training_env(config)
    env.close()
    try:
        check_spaces(config["env_id"], env.observation_space, env.action_space)
    except ConfigError as exc:
        raise ExportError(str(exc)) from None
    check_model_fits(model, where, env.observation_space, env.action_space, config["env_id"],
                     ENV_HINT)
    return PolicySource(model, config, summary, run_dir, env.observation_space,
                        env.action_space)


def training_env(config: dict[str, Any], mask_source: str | None = None) -> gym.Env:
    """The env of a training config (id, env_kwargs, max_episode_steps), putting its action
    masks from `mask_source` into its info as training did (`keras_pg.envs.masks`), or
    ExportError."""
    try:
        check_env_id(config["env_id"])
        return EnvSource(config["env_id"], config.get("env_kwargs") or {},
                         config.get("max_episode_steps"), mask_source=mask_source,
                         mask_function=config.get("action_mask_fn")).make()
    except ConfigError as exc:
        raise ExportError(f"cannot create env {config['env_id']!r}: {exc}") from None


def _load_model(model_path: Path) -> keras.Model:
    try:
        model = keras.models.load_model(model_path)
    except Exception as exc:  # Keras raises many types for a file it cannot read
        raise ExportError(f"cannot load {model_path} as a Keras model: {first_line(exc)}"
                          ) from None
    check_policy(model, str(model_path))
    return model


def check_policy(model: keras.Model, where: str) -> None:
    """Raise ExportError unless `model` is a keras_pg policy (one input, or a dict of them
    for a Dict or Tuple observation, and one output; a recurrent one's [obs, state] and
    [params, next_state])."""
    recurrent = is_recurrent(model)
    try:
        structured = isinstance(observation_inputs(model), dict)
    except (AttributeError, ValueError):  # a model never called has no input
        structured = False
    inputs = "a dict of inputs" if structured else f"{len(model.inputs)} input(s)"
    if (model.name != POLICY_NAME or len(model.outputs) != 1 + recurrent
            or (len(model.inputs) != 1 + recurrent and not structured)):
        raise ExportError(
            f"{where} is not a keras_pg policy: expected a functional model named "
            f"{POLICY_NAME!r} with one input (or one per part of the observation) and one "
            f"output, got {model.name!r} with {inputs} and {len(model.outputs)} output(s)")


def check_model_fits(model: keras.Model, where: str, observation_space: gym.Space,
                     action_space: gym.Space, spaces_from: str, hint: str) -> None:
    """Raise ExportError unless the policy's input takes the observation space's observations
    and its output has the size the action space's head needs (logits [B, n], or a mean and
    a log-std [B, 2d]); the message names both."""
    obs = observation_inputs(model)
    inputs = obs if isinstance(obs, dict) else {contract.INPUT: obs}
    got = {name: (tuple(x.shape[1:]), str(x.dtype)) for name, x in inputs.items()}
    expected = part_specs(observation_space)
    if got != expected:
        raise ExportError(
            f"{where} takes observations {_inputs_text(got)}, but {spaces_from} has "
            f"observation space {_describe(observation_space)} (observations "
            f"{_inputs_text(expected)}); {hint}")
    if isinstance(action_space, gym.spaces.Discrete):
        size, what = int(action_space.n), "one logit per action"
    elif isinstance(action_space, gym.spaces.MultiDiscrete):
        size, what = int(action_space.nvec.sum()), "one logit per action of each branch"
    elif isinstance(action_space, gym.spaces.MultiBinary):
        size, what = int(np.prod(action_space.shape)), "one logit per bit"
    else:  # a Box: check_spaces and spaces.json (space_from_description) admit no other
        box = cast(gym.spaces.Box, action_space)
        size, what = 2 * int(box.shape[0]), "a mean and a log-std per dimension"
    params = tuple(model.outputs[0].shape)  # the distribution's parameters
    if len(params) != 2 or params[-1] != size:
        raise ExportError(
            f"{where} outputs shape {params[1:]} per observation, but {spaces_from} has "
            f"action space {_describe(action_space)}, which needs ({size},) ({what}); {hint}")


def _inputs_text(specs: dict[str, tuple[tuple[int, ...], str]]) -> str:
    """"of shape (4,) float32", or per part: "image (7, 7, 3) uint8, direction () float32"."""
    if list(specs) == [contract.INPUT]:
        shape, dtype = specs[contract.INPUT]
        return f"of shape {shape} {dtype}"
    return ", ".join(f"{name} {shape} {dtype}" for name, (shape, dtype) in specs.items())


def _describe(space: gym.Space) -> str:
    if isinstance(space, gym.spaces.Discrete):
        return f"Discrete({int(space.n)})"
    if isinstance(space, gym.spaces.MultiDiscrete):
        return f"MultiDiscrete({[int(n) for n in space.nvec]})"
    if isinstance(space, gym.spaces.MultiBinary):
        return f"MultiBinary({int(np.prod(space.shape))})"
    if is_structured(space):
        parts = ", ".join(f"{name}: {_describe(part)}"
                          for name, part in observation_parts(space).items())
        return f"{type(space).__name__}({parts})"
    box = cast(gym.spaces.Box, space)  # check_spaces admits no other
    return f"Box(shape={tuple(box.shape)}, {box.dtype})"
