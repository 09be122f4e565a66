"""The peers of bench/train_speed.py, run under their own interpreter (a separate venv).

The JAX+gymnax peer (bench/jax_reinforce.py) needs jax, gymnax and optax, whose numpy and
ml_dtypes pins may clash with TensorFlow's, so it runs in the venv of
bench/requirements-peers.txt and hands back JSON on stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
JAX_PEER = ROOT / "bench" / "jax_reinforce.py"
DEFAULT_PEER_PYTHON = ROOT / "bench" / ".venv-peers" / "bin" / "python"
PEER_PYTHON_ENV = "KERAS_PG_PEER_PYTHON"
CREATE_VENV = ("python3.11 -m venv bench/.venv-peers && "
               "bench/.venv-peers/bin/pip install -r bench/requirements-peers.txt")


class PeerUnavailableError(RuntimeError):
    """The peers' interpreter is missing, or a peer run failed."""


def peer_python(arg: str | None = None) -> str:
    """The peers' interpreter: `arg` (a CLI argument), else $KERAS_PG_PEER_PYTHON, else
    bench/.venv-peers/bin/python.

    Raises:
        PeerUnavailableError: that interpreter does not exist; the message says how to
            create the venv.
    """
    chosen = arg or os.environ.get(PEER_PYTHON_ENV) or str(DEFAULT_PEER_PYTHON)
    if not os.access(chosen, os.X_OK):
        raise PeerUnavailableError(
            f"no peer interpreter at {chosen}: create the venv with `{CREATE_VENV}`, "
            f"or point ${PEER_PYTHON_ENV} (or the argument) at one that has jax, gymnax, optax")
    return chosen


def run_jax_peer(seeds: list[int], python: str,
                 extra_args: Sequence[str] = ()) -> dict[str, Any]:
    """Run bench/jax_reinforce.py for `seeds` under `python`, with its defaults unless
    `extra_args` (its flags, e.g. ["--fast-compile"]) says otherwise.

    Each seed runs in its own subprocess, one after another, so the call takes the sum of
    the seeds' run times (each capped at 120 s wall, 2M env steps) plus their imports.

    Returns:
        The script's JSON: "runs" (per seed: time_to_solve_s and compile_s in wall
        seconds, env_steps, updates, steps_per_s in env steps per wall second),
        "time_to_solve_median_s" (seconds; None if most seeds did not solve), "solved"
        (count), "settings", "versions".

    Raises:
        PeerUnavailableError: the script failed (e.g. the venv lacks a package).
    """
    proc = subprocess.run(
        [python, str(JAX_PEER), "--seeds", ",".join(str(s) for s in seeds), *extra_args],
        cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise PeerUnavailableError(
            f"{JAX_PEER.name} exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result
