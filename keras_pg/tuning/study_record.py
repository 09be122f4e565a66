"""What a tuning study tunes, recorded in the study when it is created and checked by every
command that continues it: trials of other settings are not comparable, and the study's best
config would lie about them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from keras_pg.config import ConfigError
from keras_pg.envs.source import factory_name

if TYPE_CHECKING:  # for their names only: optuna is imported when a study runs
    import gymnasium as gym
    import optuna

DIRECTION = "maximize"
RECORD = "keras_pg_study"  # the study's user attr holding its study_record
# Where a trial runs and what it logs, not what it learns: tuners sharing a study may differ.
UNRECORDED_SETTINGS = frozenset({"tensorboard", "histogram_every", "ray_address"})
_UNSET = object()


def study_record(env: str | Callable[..., gym.Env], *, search: dict[str, dict[str, Any]],
                 objective: str, max_steps: int, seed: int, seeds: int, preset: str,
                 settings: dict[str, Any]) -> dict[str, Any]:
    """What makes a study's trials comparable, as the storage keeps it (JSON): recorded when
    the study is created, compared with every command that continues it."""
    fixed = {k: v for k, v in settings.items() if k not in UNRECORDED_SETTINGS | {"env_kwargs"}}
    record = {"env_id": env if isinstance(env, str) else factory_name(env),
              "env_kwargs": settings.get("env_kwargs", {}), "objective": objective,
              "direction": DIRECTION, "max_steps": max_steps, "seeds": seeds, "seed": seed,
              "preset": preset, "space": search, "settings": fixed}
    return json.loads(json.dumps(record, default=repr))  # tuples as lists, as read back


def check_record(study: optuna.Study, storage: str, record: dict[str, Any]) -> None:
    """Record what a new study tunes; refuse a study recorded with other settings, or made by
    an older keras-pg (no record) that already has trials: one line naming the difference."""
    name = study.study_name
    if RECORD not in study.user_attrs:
        if trials := len(study.get_trials(deepcopy=False)):
            raise ConfigError(
                f"study {name!r} in {storage} was made by an older keras-pg, which did not "
                f"record what it tunes, and its trials ({trials}) cannot be checked against "
                f"these settings; use another --study name, or delete it (optuna "
                f"delete-study --study-name {name} --storage {storage})")
        study.set_user_attr(RECORD, record)  # a new study, or an empty one made before records
    difference = next(_differences(study.user_attrs[RECORD], record), None)
    if difference is not None:
        field, recorded, given = difference
        raise ConfigError(
            f"study {name!r} in {storage} was created with {field} = {_shown(recorded)}, and "
            f"this command has {field} = {_shown(given)}: their trials are not comparable; "
            f"use another --study name or the same settings")


def _differences(recorded: dict[str, Any],
                 given: dict[str, Any]) -> Iterator[tuple[str, Any, Any]]:
    """(field, recorded value, given value) per difference; the space and the fixed settings
    are compared parameter by parameter ("space.lr", "settings.gamma")."""
    for key, value in given.items():
        old = recorded.get(key, _UNSET)
        if key in ("space", "settings") and isinstance(old, dict):
            for name in sorted(old.keys() | value.keys()):
                if old.get(name, _UNSET) != value.get(name, _UNSET):
                    yield f"{key}.{name}", old.get(name, _UNSET), value.get(name, _UNSET)
        elif old != value:
            yield key, old, value


def _shown(value: Any) -> str:
    return "(not set)" if value is _UNSET else json.dumps(value)
