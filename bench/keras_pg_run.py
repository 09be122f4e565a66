"""One `python -m keras_pg train` run in a subprocess, for the benchmarks that compare runs."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def train(flags: list[str], what: str) -> tuple[dict, dict[str, np.ndarray]]:
    """Train with `flags` into a temporary run directory.

    Returns its summary.json and metrics.csv's columns `env_steps` (int [episodes]), `return`
    and `wall_s` (float [episodes]); a RuntimeError naming `what` with the run's stderr if it
    fails.
    """
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [sys.executable, "-m", "keras_pg", "train", "--quiet", *flags, "--run-dir", tmp],
            cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{what}: {proc.stderr[-2000:]}")
        summary = json.loads((Path(tmp) / "summary.json").read_text())
        with open(Path(tmp) / "metrics.csv") as f:
            rows = list(csv.DictReader(f))
    columns = {"env_steps": np.array([int(r["env_steps"]) for r in rows]),
               "return": np.array([float(r["return"]) for r in rows]),
               "wall_s": np.array([float(r["wall_s"]) for r in rows])}
    return summary, columns
