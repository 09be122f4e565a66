"""The run directory: the one place a training run writes, and its layout.

    RUN_DIR/
      config.json          the Config, as a JSON object
      spaces.json          the observation and action spaces (keras_pg.envs.spaces), so that export
                           needs no env
      checkpoint.npz       weights, optimizer state, counters, and what they belong to
                           (config, spaces, checksums) for `train --resume` (checkpoint.py)
      checkpoint.prev.npz  the checkpoint before it, kept in case the latest is damaged
      metrics.csv          one row per episode: episode, env_steps, return, length, wall_s
      updates.csv          one row per update: update, episodes, env_steps, loss, entropy,
                           grad_norm, value_loss, explained_variance, wall_s
      model.keras          the policy (keras.models.load_model after `import keras_pg`)
      observations.npy     up to 1,000 observations of the last round (export verifies on them)
      learning_curve.png   episode return, its 10-episode moving average, the solve threshold
      summary.json         the run's outcome (see Trainer.summary)

Every file is written to a temporary name in the same directory and renamed into place, so
a crash or Ctrl-C never leaves a half-written file. `.lock` holds the PID of the one process
that may write here (run_lock.py).
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

CONFIG = "config.json"
SPACES = "spaces.json"
OBSERVATIONS = "observations.npy"
CHECKPOINT = "checkpoint.npz"
PREVIOUS_CHECKPOINT = "checkpoint.prev.npz"
LOCK = ".lock"
METRICS = "metrics.csv"
UPDATES = "updates.csv"
MODEL = "model.keras"
CURVE = "learning_curve.png"
SUMMARY = "summary.json"

EPISODE_COLUMNS = ("episode", "env_steps", "return", "length", "wall_s")
UPDATE_COLUMNS = ("update", "episodes", "env_steps", "loss", "entropy", "grad_norm",
                  "value_loss", "explained_variance", "wall_s")


_UMASK = os.umask(0)
os.umask(_UMASK)


class RunDirError(ValueError):
    """The run directory is missing, incomplete or not writable."""


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp_path)` on a temporary file next to `path`, then rename it to `path`.

    The temporary file keeps `path`'s suffix (Keras and matplotlib choose the format by it)
    and is removed if `write` fails.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """Atomically replace `path` with `text`."""
    atomic_write(path, lambda tmp: tmp.write_text(text))


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomically write `data` as indented JSON."""
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object, or raise RunDirError naming the file and what is wrong with it."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunDirError(f"{path} not found; expected a keras_pg run directory") from None
    except IsADirectoryError:
        raise RunDirError(f"{path} is a directory; expected a JSON file") from None
    except UnicodeDecodeError as exc:
        raise RunDirError(f"{path} is not a JSON text file (byte {exc.start} is not UTF-8)"
                          ) from None
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except OSError as exc:  # permission denied, ...: a file given to read, not one we write
        raise RunDirError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not isinstance(value, dict):
        raise RunDirError(f"{path} does not hold a JSON object; expected a keras_pg JSON file")
    return value


def csv_text(columns: tuple[str, ...], rows: list[tuple]) -> str:
    """A header row and `rows` as CSV text; floats keep full repr precision."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


def write_csv(path: Path, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Atomically write `csv_text(columns, rows)`."""
    write_text(path, csv_text(columns, rows))


def read_csv(path: Path, limit: int | None = None) -> list[tuple]:
    """The first `limit` rows (default: all) of a CSV written by `write_csv`, numbers parsed
    (ints stay ints); a row that is incomplete or not numeric is a RunDirError naming it."""
    if not Path(path).exists():
        return []
    with open(path, newline="") as f:
        header, *rows = list(csv.reader(f))
    rows = rows if limit is None else rows[:limit]
    try:
        parsed = [tuple(_number(v) for v in row) for row in rows]
    except ValueError as exc:
        raise RunDirError(f"{path} holds a value that is not a number ({exc})") from None
    for number, row in enumerate(parsed, start=2):
        if len(row) != len(header):
            raise RunDirError(f"{path} line {number} has {len(row)} of {len(header)} columns "
                              f"(an incomplete row)")
    return parsed


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


def check_resumable(run_dir: Path) -> Path:
    """`run_dir` as a Path, if it holds a checkpoint to resume from."""
    run_dir = Path(run_dir)
    if not (run_dir / CHECKPOINT).exists():
        raise RunDirError(f"cannot resume: {run_dir / CHECKPOINT} not found")
    return run_dir


def check_spaces(run_dir: Path, spaces: dict[str, Any]) -> None:
    """An env handed to a saved run must have the spaces (as JSON) it was trained on."""
    saved = read_json(run_dir / SPACES)
    for key, value in spaces.items():
        if saved.get(key) != value:
            raise RunDirError(f"the env's {key.replace('_', ' ')} {value} differs from the "
                              f"run's {saved.get(key)} ({run_dir / SPACES})")


def check_new(run_dir: Path) -> Path:
    """`run_dir` as a Path, if a new run can be created there (nothing is created yet)."""
    run_dir = Path(run_dir)
    if (run_dir / CHECKPOINT).exists():
        raise RunDirError(
            f"{run_dir} already holds a run; pass --resume {run_dir} or choose another --run-dir"
        )
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"run directory {run_dir} exists and is not a directory")
    existing = next(p for p in (run_dir, *run_dir.absolute().parents) if p.exists())
    if not os.access(existing, os.W_OK):
        raise RunDirError(f"cannot create run directory {run_dir}: {existing} is not writable")
    return run_dir


def create(run_dir: Path) -> Path:
    """Create the directory of a new run (checked by `check_new`)."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"cannot create run directory {run_dir}: {exc.strerror}") from None
    return run_dir
