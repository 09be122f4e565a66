"""Finding the policy to export: a run directory, a .keras file, or a keras.Model."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras

import keras_pg  # noqa: F401  (registers keras_pg's custom objects before loading)
from keras_pg.policy import POLICY_NAME


class ExportError(ValueError):
    """A user's export request cannot be carried out; the message is one line."""


@dataclass(frozen=True)
class PolicySource:
    """A trained policy and what is known about its training."""

    model: keras.Model
    env_id: str
    config: dict[str, Any] | None
    summary: dict[str, Any] | None
    run_dir: Path | None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as exc:
        raise ExportError(f"{path} is not valid JSON ({exc.msg})") from None


def load_source(source: keras.Model | str | Path, env_id: str | None = None) -> PolicySource:
    """Resolve a keras.Model, a run directory, or a `model.keras` file into a PolicySource.

    A run directory (or a .keras file inside one) supplies the env id, config and summary;
    a bare model or file needs `env_id`.
    """
    if isinstance(source, keras.Model):
        check_policy(source, "the given model")
        if env_id is None:
            raise ExportError("exporting a keras.Model needs env_id (the gymnasium id)")
        return PolicySource(source, env_id, None, None, None)
    path = Path(source)
    if not path.exists():
        raise ExportError(f"{path} not found; expected a run directory or a .keras file")
    run_dir, model_path = (path, path / "model.keras") if path.is_dir() else (path.parent, path)
    if not model_path.exists():
        raise ExportError(f"{model_path} not found; expected a keras_pg run directory")
    config = _read_json(run_dir / "config.json")
    env_id = env_id or (config or {}).get("env_id")
    if env_id is None:
        raise ExportError(f"no config.json beside {model_path}; pass --env with the env id")
    try:
        model = keras.models.load_model(model_path)
    except Exception as exc:  # Keras raises many types for a file it cannot read
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"cannot load {model_path} as a Keras model: {reason}") from None
    check_policy(model, str(model_path))
    return PolicySource(model, env_id, config, _read_json(run_dir / "summary.json"), run_dir)


def check_policy(model: keras.Model, where: str) -> None:
    """Raise ExportError unless `model` is a keras_pg policy (one float input, one output)."""
    if model.name != POLICY_NAME or len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ExportError(
            f"{where} is not a keras_pg policy: expected a functional model named "
            f"{POLICY_NAME!r} with one input and one output, got {model.name!r} with "
            f"{len(model.inputs)} input(s) and {len(model.outputs)} output(s)")
