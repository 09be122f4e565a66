"""End-to-end training runs on CartPole: determinism, learning, solving, resume."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_pg
from keras_pg.cli import main
from keras_pg.run import checkpoint
from keras_pg.run import run_dir as rd
from keras_pg.run.run_dir import RunDir

ROOT = Path(__file__).resolve().parents[1]
DETERMINISTIC_COLUMNS = slice(0, 4)  # episode, env_steps, return, length (wall_s is a clock)


def train(run_dir: Path, *flags: str) -> int:
    return main(["train", "--run-dir", str(run_dir), "--quiet", *flags])


def episode_rows(run_dir: Path) -> list[tuple]:
    return [row[DETERMINISTIC_COLUMNS] for row in RunDir(run_dir).episodes()]


def test_same_seed_same_metrics(tmp_path):
    flags = ("--max-steps", "6000", "--eval-episodes", "5", "--seed", "7")
    assert train(tmp_path / "a", *flags) == 0
    assert train(tmp_path / "b", *flags) == 0
    assert train(tmp_path / "c", *flags[:-1], "8") == 0
    a, b, c = (episode_rows(tmp_path / name) for name in "abc")
    assert len(a) > 50 and a == b
    assert a != c
    updates = [RunDir(tmp_path / n).updates() for n in "ab"]
    assert [u[:6] for u in updates[0]] == [u[:6] for u in updates[1]]


def test_short_run_improves_cartpole(tmp_path):
    assert train(tmp_path, "--max-steps", "30000", "--eval-episodes", "10") == 0
    returns = [row[2] for row in episode_rows(tmp_path)]
    assert np.mean(returns[-32:]) > 3 * np.mean(returns[:32])


def test_default_run_solves_cartpole_v1_and_fills_the_run_dir(solved_run):
    tmp_path = solved_run
    assert float((tmp_path / "wall_s").read_text()) < 60
    summary = RunDir(tmp_path).read_summary()
    assert summary["solved"] and summary["final_mean_return"] >= 475
    assert summary["eval_mean_return"] >= 475 and summary["eval_episodes"] == 100
    for name in (rd.CONFIG, rd.CHECKPOINT, rd.METRICS, rd.UPDATES, rd.MODEL, rd.CURVE,
                 "policy.onnx", "export_report.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    rows = RunDir(tmp_path).episodes()
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    assert rows[-1][1] == summary["env_steps"] == sum(r[3] for r in rows)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == [rd.LOCK]  # no temp files left; the lock file stays, unlocked
    assert keras_pg.__version__
    model = keras.models.load_model(tmp_path / rd.MODEL)
    assert model.output_shape == (None, 2)


def test_evaluate_command(tmp_path, capsys):
    assert train(tmp_path, "--max-steps", "2000", "--eval-episodes", "3") == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path), "--episodes", "4"]) == 0
    assert "greedy return" in capsys.readouterr().out


def start_training(run_dir: Path, *flags: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "keras_pg", "train", "--quiet", *flags], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def checkpointed_episodes(run_dir: Path) -> int:
    """Episodes in the run's checkpoint (0 before there is one)."""
    try:
        return checkpoint.read(run_dir / rd.CHECKPOINT)[1]["progress"]["episodes"]
    except rd.RunDirError:
        return 0


def wait_for_checkpoint(run_dir: Path, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Until a checkpoint with some episodes exists (the first one, at creation, has none)."""
    deadline = time.monotonic() + timeout
    while not checkpointed_episodes(run_dir):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"no checkpoint with episodes in {run_dir}"
        time.sleep(0.05)


GYM_FLAGS = ("--max-steps", "60000", "--eval-episodes", "5", "--seed", "3")
GRAPH_FLAGS = ("--backend", "graph", "--max-steps", "3000000", "--target-return", "1e9",
               "--eval-episodes", "5", "--seed", "3")


@pytest.mark.parametrize("sig,flags", [(signal.SIGINT, GYM_FLAGS), (signal.SIGTERM, GYM_FLAGS),
                                       (signal.SIGINT, GRAPH_FLAGS)],
                         ids=["gym-SIGINT", "gym-SIGTERM", "graph-SIGINT"])
def test_signal_saves_and_resume_continues_exactly(tmp_path, sig, flags):
    reference = tmp_path / "reference"
    assert train(reference, *flags) == 0

    run = tmp_path / "run"
    proc = start_training(run, "--run-dir", str(run), "--checkpoint-every", "0.3", *flags)
    wait_for_checkpoint(run, proc)
    time.sleep(0.1)
    os.kill(proc.pid, sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "--resume" in stderr.splitlines()[-1], stderr
    _, state = checkpoint.read(run / rd.CHECKPOINT)
    progress = state["progress"]
    assert 0 < progress["episodes"] == len(RunDir(run).episodes())
    assert progress["env_steps"] < progress["step_budget"]

    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert episode_rows(run) == episode_rows(reference)
