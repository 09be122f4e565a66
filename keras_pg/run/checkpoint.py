"""The checkpoint: everything a resume needs, and proof of what it belongs to.

checkpoint.npz holds the learner's arrays and a JSON state: the run's counters; the config,
env id and spaces it was written with; SHA-256 checksums of its arrays and of the metrics
rows it covers; and a fresh id, by which a writer tells that the run directory still holds
what it loaded or last wrote (`written_since`). A resume checks all of it against
config.json, spaces.json, metrics.csv and updates.csv before anything is touched, and any
damage or disagreement is a one-line RunDirError naming the file, what is wrong and how to
recover. Writing a checkpoint keeps the one before as checkpoint.prev.npz, so a damaged
latest checkpoint never loses the run.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from keras_pg.config import Config
from keras_pg.errors import first_line
from keras_pg.run import files
from keras_pg.run import run_dir as rd
from keras_pg.run.run_dir import EpisodeRow, EvalRow, UpdateRow

STATE = "state_json"


class Checkpoint(NamedTuple):
    arrays: dict[str, np.ndarray]
    """The learner's state by name (see Learner.state_arrays)."""
    progress: dict[str, Any]
    """The Trainer's Progress as a dict."""
    episode_rows: list[EpisodeRow]
    """The metrics.csv rows it covers (verified)."""
    update_rows: list[UpdateRow]
    """The updates.csv rows it covers (verified)."""
    eval_rows: list[EvalRow]
    """The evals.csv rows it covers (verified; none in a checkpoint older than evals.csv)."""
    checkpoint_id: str | None
    """The id written with it (None for a checkpoint older than ids)."""


def digest(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def arrays_digest(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over every array's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        h.update(array.tobytes())
    return h.hexdigest()


def config_digest(config: dict[str, Any]) -> str:
    return digest(json.dumps(config, sort_keys=True))


def save(run_dir: Path, arrays: dict[str, np.ndarray], progress: dict[str, Any],
         config: dict[str, Any], spaces: dict[str, Any], episode_rows: list[EpisodeRow],
         update_rows: list[UpdateRow], eval_rows: list[EvalRow]) -> str:
    """Write checkpoint.npz atomically, keeping the previous one as checkpoint.prev.npz;
    return its new id.

    Call it after metrics.csv, updates.csv and evals.csv hold the rows given: a crash
    between the two leaves metrics ahead of the checkpoint, which a resume recomputes.
    """
    checkpoint_id = uuid.uuid4().hex
    state = {
        "checkpoint_id": checkpoint_id, "progress": progress, "config": config,
        "config_sha256": config_digest(config),
        "env_id": config["env_id"], "spaces": spaces, "arrays_sha256": arrays_digest(arrays),
        "metrics_sha256": digest(files.csv_text(rd.EPISODE_COLUMNS, episode_rows)),
        "updates_sha256": digest(files.csv_text(rd.UPDATE_COLUMNS, update_rows)),
        "evals": len(eval_rows),
        "evals_sha256": digest(files.csv_text(rd.EVAL_COLUMNS, eval_rows)),
    }
    payload = dict(arrays, **{STATE: np.array(json.dumps(state))})
    path, previous = run_dir / rd.CHECKPOINT, run_dir / rd.PREVIOUS_CHECKPOINT

    def write(tmp: Path) -> None:
        np.savez(tmp, allow_pickle=False, **payload)  # numbers and text, as `read` loads them
        if path.exists():  # the current checkpoint becomes the previous one, atomically
            link = tmp.with_name(tmp.name + ".prev")
            os.link(path, link)
            os.replace(link, previous)

    files.atomic_write(path, write)
    return checkpoint_id


def written_since(run_dir: Path, checkpoint_id: str | None) -> dict[str, Any] | None:
    """The progress of `run_dir`'s checkpoint if another writer has replaced the one with
    `checkpoint_id` (the one this writer loaded or last wrote), else None. Reads only the
    checkpoint's small state, not its arrays."""
    path = run_dir / rd.CHECKPOINT
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            state = json.loads(str(data[STATE]))
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile):
        return None  # damaged: writing a good checkpoint over it loses nothing
    return None if state.get("checkpoint_id") == checkpoint_id else state["progress"]


def load(run_dir: Path, config: dict[str, Any], spaces: dict[str, Any]) -> Checkpoint:
    """The checkpoint of `run_dir`, verified against `config` (config.json's), `spaces` (the
    env's) and the metrics files; a RunDirError for the first thing that does not agree."""
    path = run_dir / rd.CHECKPOINT
    try:
        arrays, state = read(path)
    except rd.RunDirError as exc:
        raise rd.RunDirError(f"{exc}{_previous_hint(run_dir)}") from None
    # A field added to Config after the checkpoint was written takes its default, which
    # keeps the behaviour the run was trained with.
    saved_config = {**Config().to_dict(), **state["config"]}
    if config != saved_config:
        changed = sorted(k for k in {*config, *saved_config}
                         if config.get(k) != saved_config.get(k))
        raise rd.RunDirError(
            f"{run_dir / rd.CONFIG} differs from the config {path.name} was written with "
            f"(changed: {', '.join(changed) or 'formatting only'}); restore it, or start a new "
            f"run directory")
    if state["spaces"] != spaces:
        raise rd.RunDirError(
            f"{path} was written for the spaces {state['spaces']} of {state['env_id']}, not "
            f"this env's {spaces}; resume with the run's own env")
    progress = state["progress"]
    episode_rows = [EpisodeRow._make(row) for row in _verified_rows(
        run_dir / rd.METRICS, progress["episodes"], state["metrics_sha256"], "episode")]
    update_rows = [UpdateRow._make(row) for row in _verified_rows(
        run_dir / rd.UPDATES, progress["updates"], state["updates_sha256"], "update")]
    eval_rows = [EvalRow._make(row) for row in _verified_rows(
        run_dir / rd.EVALS, state["evals"], state["evals_sha256"], "evaluation")
    ] if state.get("evals") else []
    return Checkpoint(arrays, progress, episode_rows, update_rows, eval_rows,
                      state.get("checkpoint_id"))


def read(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and state of a checkpoint file, checksum verified (RunDirError if not)."""
    if not path.exists():
        raise rd.RunDirError(f"{path} not found; nothing to resume (was the run started?)")
    if not zipfile.is_zipfile(path):
        raise rd.RunDirError(f"{path} is damaged (not a .npz archive: truncated or overwritten)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files if k != STATE}
            state = json.loads(str(data[STATE]))
        complete = {"progress", "config", "config_sha256", "env_id", "spaces",
                    "arrays_sha256", "metrics_sha256", "updates_sha256"} <= set(state)
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise rd.RunDirError(f"{path} is damaged ({type(exc).__name__}: {first_line(exc, 80)})"
                             ) from None
    if not complete:
        raise rd.RunDirError(f"{path} is not a keras_pg checkpoint of this version (its state "
                             f"lacks keys); start a new run directory")
    if arrays_digest(arrays) != state["arrays_sha256"]:
        raise rd.RunDirError(f"{path} is damaged (its arrays do not match their checksum)")
    if config_digest(state["config"]) != state["config_sha256"]:
        raise rd.RunDirError(f"{path} is damaged (its config does not match its checksum)")
    return arrays, state


def _previous_hint(run_dir: Path) -> str:
    """How to recover from a damaged latest checkpoint, if the previous one is intact."""
    previous = run_dir / rd.PREVIOUS_CHECKPOINT
    try:
        _, state = read(previous)
    except rd.RunDirError:
        return "; no intact previous checkpoint: start a new run directory"
    return (f"; {previous.name} is intact ({state['progress']['episodes']:,} episodes): "
            f"mv {previous} {run_dir / rd.CHECKPOINT} and resume again")


def _verified_rows(path: Path, count: int, expected: str,
                   what: str) -> list[tuple[int | float, ...]]:
    """The first `count` rows of a metrics file, if they are what the checkpoint recorded."""
    if not path.exists():
        raise rd.RunDirError(f"{path} is missing; the checkpoint covers {count:,} {what}s: "
                             f"restore it, or start a new run directory")
    lines = path.read_text().splitlines(keepends=True)
    covered = lines[: count + 1]
    if len(lines) - 1 < count or not (covered[-1].endswith("\n")):
        raise rd.RunDirError(f"{path} has {max(len(lines) - 1, 0):,} complete {what} rows; the "
                             f"checkpoint covers {count:,}: it was truncated; restore it, or "
                             f"start a new run directory")
    if digest("".join(covered)) != expected:
        raise rd.RunDirError(f"{path} differs from what the checkpoint recorded for its first "
                             f"{count:,} {what}s: it was edited; restore it, or start a new run "
                             f"directory")
    return files.read_csv(path, limit=count)
