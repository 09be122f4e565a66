"""The run directory: the one place a training run writes, its layout, and `RunDir`.

    RUN_DIR/
      config.json          the Config, as a JSON object
      spaces.json          the observation and action spaces (serve.spaces), so that
                           export needs no env
      checkpoint.npz       weights, optimizer state, counters, and what they belong to
                           (config, spaces, checksums) for `train --resume` (checkpoint.py)
      checkpoint.prev.npz  the checkpoint before it, kept in case the latest is damaged
      metrics.csv          one row per episode (EpisodeRow)
      updates.csv          one row per update (UpdateRow)
      evals.csv            one row per greedy evaluation during training (EvalRow; eval_every)
      model.keras          the policy (keras.models.load_model after `import keras_pg`)
      observations.npy     up to 1,000 observations of the last rounds (export verifies on them);
                           observations.npz, one array per part, for a Dict or Tuple space
      learning_curve.png   episode return, its 10-episode moving average, the solve threshold
      summary.json         the run's outcome (see Trainer.summary)
      tb/                  TensorBoard event files (tensorboard.py)
      policy.onnx          written by export (`python -m export RUN_DIR`), with
      export_report.json   its verification report (export names these two: its command
                           line checks them before TensorFlow, and keras_pg, load)

Every file is written to a temporary name in the same directory and renamed into place
(files.py), so a crash or Ctrl-C never leaves a half-written file. `.lock` holds the PID of
the one process that may write here (lock.py). Every file keras_pg writes or reads in a run
is named in this module, and read and written through `RunDir`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from keras_pg.errors import first_line
from keras_pg.run import files
from keras_pg.run.files import RunDirError

CONFIG = "config.json"
SPACES = "spaces.json"
OBSERVATIONS = "observations.npy"
PART_OBSERVATIONS = "observations.npz"  # {part: [n, ...]}, of a Dict or Tuple observation
CHECKPOINT = "checkpoint.npz"
PREVIOUS_CHECKPOINT = "checkpoint.prev.npz"
LOCK = ".lock"
METRICS = "metrics.csv"
UPDATES = "updates.csv"
EVALS = "evals.csv"
MODEL = "model.keras"
CURVE = "learning_curve.png"
SUMMARY = "summary.json"
TENSORBOARD = "tb"


class EpisodeRow(NamedTuple):
    """One row of metrics.csv: a training episode, logged when its round is collected."""

    episode: int
    """1-based, in the order the episodes started within their rounds."""
    env_steps: int
    """Env steps of the run up to and including this episode."""
    episode_return: float
    """The undiscounted return (the CSV column `return`)."""
    length: int
    """Steps of the episode."""
    wall_s: float
    """Training seconds of the run before the round holding this episode: all earlier
    rounds, collection and update (the clock is read once per round, after it)."""


class UpdateRow(NamedTuple):
    """One row of updates.csv: one gradient update."""

    update: int
    episodes: int
    """Episodes of the run so far, this update's included."""
    env_steps: int
    loss: float
    """The policy loss (the entropy bonus included)."""
    entropy: float
    """Mean entropy of the policy on the batch, in nats."""
    grad_norm: float
    """Global norm of the policy gradient, before clipping."""
    value_loss: float
    """The value network's mean squared error (0 without baseline="value")."""
    explained_variance: float
    """Of the returns by the value network (nan without baseline="value")."""
    wall_s: float
    """Training seconds of the run after this update's round (collection and update)."""


class EvalRow(NamedTuple):
    """One row of evals.csv: a greedy evaluation during training (config.eval_every)."""

    evaluation: int
    """1-based."""
    update: int
    """The update whose weights were evaluated (the evaluation runs right after it)."""
    env_steps: int
    """Training env steps of the run so far (the evaluation's own steps are not counted)."""
    mean_return: float
    """Mean undiscounted return of the greedy episodes."""
    std_return: float
    episodes: int
    wall_s: float
    """Seconds the evaluation took (also counted in the run's training seconds)."""


EPISODE_COLUMNS = tuple("return" if f == "episode_return" else f for f in EpisodeRow._fields)
"""The header of metrics.csv."""
UPDATE_COLUMNS = UpdateRow._fields
"""The header of updates.csv."""
EVAL_COLUMNS = EvalRow._fields
"""The header of evals.csv."""


class RunDir:
    """A run directory at `path`: its files' paths, and their reads and writes.

    Reads raise RunDirError with one line naming the file and the problem; writes are
    atomic. The lock (keras_pg.run.RunDirLock) is the caller's to hold while writing.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # -- paths -------------------------------------------------------------------------------
    def file(self, name: str) -> Path:
        """The path of the run's file `name` (one of this module's names)."""
        return self.path / name

    @property
    def model_file(self) -> Path:
        return self.path / MODEL

    @property
    def tensorboard_dir(self) -> Path:
        return self.path / TENSORBOARD

    # -- JSON --------------------------------------------------------------------------------
    def read_config(self) -> dict[str, Any]:
        """config.json, as written (keras_pg.Config.from_dict checks it)."""
        return files.read_json(self.path / CONFIG)

    def read_spaces(self) -> dict[str, Any]:
        """spaces.json: {"observation_space": ..., "action_space": ...} (serve.spaces)."""
        return files.read_json(self.path / SPACES)

    def read_summary(self) -> dict[str, Any] | None:
        """summary.json, or None before a `learn` has ended."""
        return self.read_if_present(SUMMARY)

    def read_if_present(self, name: str) -> dict[str, Any] | None:
        """The run's JSON file `name`, or None if it is not there (a model copied alone)."""
        path = self.path / name
        return files.read_json(path) if path.exists() else None

    def write_config(self, config: dict[str, Any], spaces: dict[str, Any]) -> None:
        """config.json and spaces.json."""
        files.write_json(self.path / CONFIG, config)
        files.write_json(self.path / SPACES, spaces)

    def write_summary(self, summary: dict[str, Any]) -> None:
        files.write_json(self.path / SUMMARY, summary)

    def check_spaces(self, spaces: dict[str, Any]) -> None:
        """An env handed to a saved run must have the spaces (as JSON) it was trained on."""
        saved = self.read_spaces()
        for key, value in spaces.items():
            if saved.get(key) != value:
                raise RunDirError(f"the env's {key.replace('_', ' ')} {value} differs from the "
                                  f"run's {saved.get(key)} ({self.path / SPACES})")

    # -- metrics -----------------------------------------------------------------------------
    def episodes(self, limit: int | None = None) -> list[EpisodeRow]:
        """The first `limit` rows of metrics.csv (default: all; none before any episode)."""
        return [EpisodeRow._make(row) for row in files.read_csv(self.path / METRICS, limit)]

    def updates(self, limit: int | None = None) -> list[UpdateRow]:
        """The first `limit` rows of updates.csv (default: all; none before any update)."""
        return [UpdateRow._make(row) for row in files.read_csv(self.path / UPDATES, limit)]

    def evals(self, limit: int | None = None) -> list[EvalRow]:
        """The first `limit` rows of evals.csv (default: all; none without evaluations)."""
        return [EvalRow._make(row) for row in files.read_csv(self.path / EVALS, limit)]

    def write_metrics(self, episodes: list[EpisodeRow], updates: list[UpdateRow],
                      evals: list[EvalRow]) -> None:
        """metrics.csv and updates.csv, whole, and evals.csv when there are evaluations or
        were (a resume drops the rows its checkpoint does not cover from all three)."""
        files.write_csv(self.path / METRICS, EPISODE_COLUMNS, episodes)
        files.write_csv(self.path / UPDATES, UPDATE_COLUMNS, updates)
        if evals or (self.path / EVALS).exists():
            files.write_csv(self.path / EVALS, EVAL_COLUMNS, evals)

    # -- the model and its observations ------------------------------------------------------
    def write_model(self, model: Any) -> None:
        """model.keras, from a keras.Model."""
        files.atomic_write(self.path / MODEL, lambda tmp: model.save(tmp))

    def read_observations(self) -> np.ndarray | dict[str, np.ndarray] | None:
        """observations.npy, [n, *obs_shape], or observations.npz, {part: [n, ...]}; None if
        the run kept none."""
        for name in (OBSERVATIONS, PART_OBSERVATIONS):
            path = self.path / name
            if path.exists():
                try:
                    return _load_observations(path)
                except Exception as exc:  # numpy raises many types for a file it cannot read
                    raise RunDirError(f"{path} is not a readable {path.suffix} file: "
                                      f"{first_line(exc)}") from None
        return None

    def write_observations(self, observations: np.ndarray | dict[str, np.ndarray]) -> None:
        """observations.npy of an array, observations.npz of {part: array}."""
        if isinstance(observations, dict):
            files.atomic_write(self.path / PART_OBSERVATIONS,
                               lambda tmp: _save_parts(tmp, observations))
        else:
            files.atomic_write(self.path / OBSERVATIONS,
                               lambda tmp: np.save(tmp, observations))

    # -- the directory -----------------------------------------------------------------------
    def check_new(self) -> RunDir:
        """This run directory, if a new run can be created here (nothing is created yet)."""
        if (self.path / CHECKPOINT).exists():
            raise RunDirError(f"{self.path} already holds a run; pass --resume {self.path} or "
                              f"choose another --run-dir")
        if self.path.exists() and not self.path.is_dir():
            raise RunDirError(f"run directory {self.path} exists and is not a directory")
        existing = next(p for p in (self.path, *self.path.absolute().parents) if p.exists())
        if not os.access(existing, os.W_OK):
            raise RunDirError(f"cannot create run directory {self.path}: {existing} is not "
                              f"writable")
        return self

    def check_resumable(self) -> RunDir:
        """This run directory, if it holds a checkpoint to resume from."""
        if not (self.path / CHECKPOINT).exists():
            raise RunDirError(f"cannot resume: {self.path / CHECKPOINT} not found")
        return self

    def create(self) -> RunDir:
        """Create the directory of a new run (checked by `check_new`)."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunDirError(f"cannot create run directory {self.path}: {exc.strerror}"
                              ) from None
        return self


def _load_observations(path: Path) -> np.ndarray | dict[str, np.ndarray]:
    if path.name == OBSERVATIONS:
        return np.load(path, allow_pickle=False)
    with np.load(path, allow_pickle=False) as parts:
        return {name: parts[name] for name in parts.files}


def _save_parts(path: Path, parts: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as file:  # a file object: np.savez would add .npz to a path
        np.savez(file, **parts)  # type: ignore[arg-type]
