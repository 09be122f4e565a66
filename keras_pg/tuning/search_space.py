"""The hyperparameter search space of `keras_pg tune`: Config fields and their distributions.

A space maps a Config field to a distribution, written as JSON so that `--space FILE` can
override it:

    {"type": "log", "low": 1e-4, "high": 0.1}        log-uniform float
    {"type": "float", "low": 0.9, "high": 0.999}     uniform float
    {"type": "int", "low": 1, "high": 20}            uniform integer
    {"choices": [8, 16, 32, 64]}                      one of the values (null for none)

`hidden` takes choices written as in the command line ("128,128"). A field not in the space
keeps the tuner's base settings.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keras_pg.config import Config, ConfigError

if TYPE_CHECKING:  # for its names only: optuna is imported when a study runs
    import optuna

DEFAULT_SPACE: dict[str, dict[str, Any]] = {
    "lr": {"type": "log", "low": 1e-4, "high": 0.1},
    "gamma": {"choices": [0.95, 0.98, 0.99, 0.995, 0.999]},
    "num_envs": {"choices": [8, 16, 32, 64]},
    "episodes_per_update": {"choices": [8, 16, 32, 64]},
    "hidden": {"choices": ["64", "128", "64,64", "128,128", "256,256"]},
    "entropy_coef": {"choices": [0.0, 0.001, 0.003, 0.01, 0.03]},
    "baseline": {"choices": ["none", "value"]},
    "advantage": {"choices": ["mc", "gae"]},
    "gae_lambda": {"choices": [0.9, 0.95, 0.98, 1.0]},
    "normalize_obs": {"choices": [True, False]},
    "max_grad_norm": {"choices": [None, 0.5, 1.0, 5.0]},
}
FIELDS = {f.name for f in dataclasses.fields(Config)} - {"env_id", "env_kwargs", "seed",
                                                          "max_steps", "backend"}


def read_space(path: Path | None,
               overrides: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """DEFAULT_SPACE, replaced by the JSON object in `path` if given, then `overrides`; every
    entry checked (a ConfigError naming the first unknown parameter or malformed entry)."""
    space = dict(DEFAULT_SPACE)
    if path is not None:
        try:
            space = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read the search space {path}: {exc}") from None
        if not isinstance(space, dict):
            raise ConfigError(f"the search space {path} must be a JSON object of parameters")
    space.update(overrides or {})
    for name, spec in space.items():
        check(name, spec)
    return space


def check(name: str, spec: Any) -> None:
    if name not in FIELDS:
        raise ConfigError(f"unknown parameter {name!r} in the search space; tunable are "
                          f"{', '.join(sorted(FIELDS))}")
    ranged = isinstance(spec, dict) and spec.get("type") in ("log", "float", "int") and all(
        isinstance(spec.get(k), int | float) for k in ("low", "high")) and (
        spec["low"] < spec["high"]) and (spec["type"] != "log" or spec["low"] > 0)
    chosen = isinstance(spec, dict) and isinstance(spec.get("choices"), list) and spec[
        "choices"] and set(spec) == {"choices"} and all(
        v is None or isinstance(v, bool | int | float | str) for v in spec["choices"])
    if not (ranged or chosen):
        raise ConfigError(f"search space entry {name}: {json.dumps(spec)} is not a "
                          f"distribution; expected {{\"type\": \"log\"|\"float\"|\"int\", "
                          f"\"low\": L, \"high\": H}} or {{\"choices\": [...]}}")


def suggest(trial: optuna.Trial, space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Config values for an optuna trial: one draw per parameter of `space` (trial.params
    holds the draws as written in the space). num_envs is capped at episodes_per_update:
    more envs than episodes would idle; advantage gae brings the value baseline it needs."""
    values = {}
    for name, spec in space.items():
        if "choices" in spec:
            values[name] = trial.suggest_categorical(name, spec["choices"])
        elif spec["type"] == "int":
            values[name] = trial.suggest_int(name, int(spec["low"]), int(spec["high"]))
        else:
            values[name] = trial.suggest_float(name, spec["low"], spec["high"],
                                               log=spec["type"] == "log")
    if isinstance(values.get("hidden"), str):
        values["hidden"] = tuple(int(w) for w in values["hidden"].split(","))
    if values.get("advantage") == "gae":
        values["baseline"] = "value"
    if "num_envs" in values and "episodes_per_update" in values:
        values["num_envs"] = min(values["num_envs"], values["episodes_per_update"])
    return values
