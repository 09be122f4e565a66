"""The environment a policy acts in: the one it was trained in, rebuilt from its metadata.

The metadata names it (see serve/contract.py): env_id (a gymnasium id, "module:EnvId", or
"<module.function>" for a Python factory, which cannot be rebuilt), env_kwargs and
max_episode_steps. A caller may name another env, or other arguments, instead.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, NamedTuple

import gymnasium as gym

from serve import contract
from serve.spaces import describe_space

ENV_HINT = "pass --env ID (a gymnasium id or module:EnvId)"


def factory_name(factory: Callable[..., Any]) -> str:
    """How an env given as a Python callable is named in config.json and the ONNX metadata:
    "<module.function>" (it cannot be rebuilt from the name)."""
    module = getattr(factory, "__module__", None) or "?"
    return f"<{module}.{getattr(factory, '__qualname__', type(factory).__name__)}>"


def is_factory_name(env_id: str) -> bool:
    """Whether `env_id` names a Python env factory ("<module.function>", see factory_name)."""
    return env_id.startswith("<") and env_id.endswith(">")


def env_module(env_id: str) -> str | None:
    """The module to import before making "module:EnvId" (it registers EnvId); None for a
    plain gymnasium id."""
    module, colon, _ = env_id.rpartition(":")
    return module if colon else None


class EnvRecipe(NamedTuple):
    """What gymnasium.make needs to build the env."""

    env_id: str
    """A gymnasium id or "module:EnvId" (or the metadata's "<module.function>")."""
    kwargs: dict[str, Any]
    """Keyword arguments of gymnasium.make, besides the two below."""
    max_episode_steps: int | None
    """The TimeLimit; None keeps the registered one."""
    from_metadata: bool
    """Whether env_id is the one in the policy's metadata (for error messages)."""


def env_recipe(metadata: dict[str, Any], env_id: str | None = None,
               env_kwargs: dict[str, Any] | None = None,
               max_episode_steps: int | None = None) -> EnvRecipe:
    """The env to build: the explicit arguments, completed from the policy's metadata.

    With env_id None: the metadata's env_id, env_kwargs and max_episode_steps. An explicit
    env_id takes the metadata's kwargs and time limit only if it is the metadata's env_id;
    explicit env_kwargs and max_episode_steps always win.
    """
    trained_id = metadata.get(contract.ENV_ID_KEY)
    env_id = env_id or trained_id
    if not env_id:
        raise ValueError(f"the policy has no env_id in its metadata; {ENV_HINT}")
    same = env_id == trained_id
    if env_kwargs is None:
        env_kwargs = (metadata.get(contract.ENV_KWARGS_KEY) or {}) if same else {}
    if max_episode_steps is None and same:
        max_episode_steps = metadata.get(contract.MAX_EPISODE_STEPS_KEY)
    if not isinstance(env_kwargs, dict):
        raise ValueError("env_kwargs must be a dict of gymnasium.make keyword arguments, got "
                         f"{type(env_kwargs).__name__}")
    steps = max_episode_steps
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise ValueError(f"max_episode_steps must be a positive integer, got {steps!r}")
    return EnvRecipe(env_id, dict(env_kwargs), max_episode_steps, from_metadata=same)


def make_env(recipe: EnvRecipe, render_mode: str | None = None) -> gym.Env:
    """gymnasium.make(recipe), or a one-line ValueError saying what failed and what to pass.

    render_mode is passed only when given: hand-written envs often take no render_mode
    argument, and gymnasium hands on render_mode=None as it is.
    """
    if recipe.from_metadata and is_factory_name(recipe.env_id):
        raise ValueError(f"the policy was trained on a Python env factory {recipe.env_id}, "
                         f"which serve cannot rebuild; {ENV_HINT}")
    options = dict(recipe.kwargs)
    if recipe.max_episode_steps is not None:
        options["max_episode_steps"] = recipe.max_episode_steps
    if render_mode is not None:
        options["render_mode"] = render_mode
    module = env_module(recipe.env_id)
    try:
        if module:  # gymnasium imports it too, but buries the reason in two more sentences
            importlib.import_module(module)
        return gym.make(recipe.env_id, **options)
    except Exception as exc:  # an env's constructor may raise anything for kwargs it rejects
        where = " from the policy's metadata" if recipe.from_metadata else ""
        raise ValueError(f"cannot create env {recipe.env_id!r}{where}: {_reason(exc)}; "
                         f"{ENV_HINT} and --env-kwargs JSON") from None


def check_env_fits(env: gym.Env, recipe: EnvRecipe,
                   inputs: dict[str, tuple[tuple[int, ...], Any]],
                   action_space: dict[str, Any], mask_key: str | None = None) -> None:
    """A one-line ValueError unless the env's observations are the policy's `inputs` ({"obs":
    (shape, dtype)}, or one per part of a Dict or Tuple observation: the parts and their
    shapes) and its action space is the one the policy acts in (Discrete n, a Box of shape
    [d], MultiDiscrete nvec, MultiBinary n; a size the policy leaves open, None, takes any).
    `mask_key`: a Dict observation's key the policy does not take, its action masks."""
    hint = "pass the env the policy was trained on with --env ID"
    wanted = {name: tuple(shape) for name, (shape, _) in inputs.items()}
    try:
        given = {name: tuple(shape) for name, (shape, _)
                 in contract.input_specs(describe_space(env.observation_space)).items()
                 if name != mask_key}
    except ValueError:  # a space no keras_pg policy takes
        given = {}
    if given != wanted:
        takes = (str(wanted[contract.INPUT]) if list(wanted) == [contract.INPUT]
                 else _inputs(wanted, env).removeprefix("with "))
        raise ValueError(f"env {recipe.env_id!r} gives observations {_inputs(given, env)}, "
                         f"but the policy takes {takes}; {hint}")
    try:
        acts = describe_space(env.action_space)
    except ValueError:
        acts = {"type": type(env.action_space).__name__}
    if not _same_actions(acts, action_space):
        raise ValueError(f"env {recipe.env_id!r} has action space {_actions(acts)}, but the "
                         f"policy acts in {_actions(action_space)}; {hint}")


def _same_actions(env: dict[str, Any], policy: dict[str, Any]) -> bool:
    if env["type"] != policy["type"]:
        return False
    if env["type"] == "Box":
        return len(env["shape"]) == 1 and policy["shape"][0] in (None, env["shape"][0])
    key = "nvec" if env["type"] == "MultiDiscrete" else "n"
    return policy[key] in (None, env[key])


def _actions(space: dict[str, Any]) -> str:
    """Discrete(2), a Box of shape (1,), MultiDiscrete([3, 4]), MultiBinary(4)."""
    if space["type"] == "Box":
        return f"a Box of shape {tuple(space['shape'])}"
    if "nvec" in space or "n" in space:
        return f"{space['type']}({space.get('nvec', space.get('n'))})"
    return f"a {space['type']} space"


def _inputs(shapes: dict[str, tuple[int, ...]], env: gym.Env) -> str:
    """"of shape (4,)", per part "direction (), image (7, 7, 3)", or the env's space."""
    if not shapes:
        return f"of {type(env.observation_space).__name__} {env.observation_space}"
    if list(shapes) == [contract.INPUT]:
        return f"of shape {shapes[contract.INPUT]}"
    return "with the parts " + ", ".join(f"{name} {shape}" for name, shape in shapes.items())


def _reason(exc: Exception) -> str:
    """The first line of the message, after the type unless gymnasium or an import wrote it."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    if text and isinstance(exc, gym.error.Error | ImportError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
