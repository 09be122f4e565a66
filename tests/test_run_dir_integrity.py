"""The run directory checks itself: one writer (a lock), checkpoints that know what they
belong to, damage reported in one line with the way to recover, and kill -9 never losing
more than one checkpoint interval."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from keras_pg.cli import main
from keras_pg.run import checkpoint
from keras_pg.run import run_dir as rd
from keras_pg.run.files import write_json
from keras_pg.run.run_dir import RunDir

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ("--max-steps", "20000", "--eval-episodes", "2", "--num-envs", "8",
         "--episodes-per-update", "8", "--lr", "0.01")


def train(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "keras_pg", "train", "--quiet", *args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def episodes_in_checkpoint(run_dir: Path) -> int:
    try:
        return checkpoint.read(run_dir / rd.CHECKPOINT)[1]["progress"]["episodes"]
    except rd.RunDirError:
        return 0


def wait_until(condition, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def rows(run_dir: Path) -> list[tuple]:
    return [row[:4] for row in RunDir(run_dir).episodes()]  # not wall_s


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted run with FLAGS (seed 0): what every interrupted run must reproduce."""
    path = tmp_path_factory.mktemp("reference") / "run"
    assert main(["train", "--run-dir", str(path), "--quiet", *FLAGS]) == 0
    return path


def test_a_second_trainer_on_a_locked_run_dir_is_refused_and_the_first_is_intact(tmp_path,
                                                                                 reference):
    run = tmp_path / "run"
    long_flags = [*FLAGS[:1], "100000000", *FLAGS[2:], "--target-return", "1e9"]  # until stopped
    first = train("--run-dir", str(run), "--checkpoint-every", "0.2", *long_flags)
    wait_until(lambda: episodes_in_checkpoint(run) > 0, first)
    for second_args in (["keras_pg", "train", "--quiet", "--resume", str(run)],
                        ["keras_pg", "train", "--quiet", "--run-dir", str(run), *FLAGS],
                        ["export", str(run)]):
        second = subprocess.run([sys.executable, "-m", *second_args], cwd=ROOT,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 2, second.stderr
        assert second.stderr.strip() == (
            f"error: {run} is in use by process {first.pid} (a trainer or an export); wait "
            f"for it to finish, or choose another run directory")
    first.send_signal(signal.SIGINT)
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 130, stderr
    assert not (run / "policy.onnx").exists()
    # The first run is intact: its checkpoint verifies against its files, and it trained
    # exactly as the reference (the same settings but the budget) did.
    saved = checkpoint.load(run, RunDir(run).read_config(), RunDir(run).read_spaces())
    assert saved.progress["episodes"] == len(rows(run)) > len(rows(reference))
    assert rows(run)[: len(rows(reference)) - 8] == rows(reference)[:-8]


def start_and_kill(seed: int, base: Path) -> tuple[Path, float, int]:
    """Start the reference run in a subprocess and kill -9 it at a random moment after its
    run directory exists; returns the run directory, how old its checkpoint was at the
    kill, and the exit code."""
    run = base / f"run{seed}"
    proc = train("--run-dir", str(run), "--checkpoint-every", "0.25", *FLAGS)
    wait_until((run / rd.CHECKPOINT).exists, proc)
    time.sleep(random.Random(seed).uniform(0.0, 1.5))
    proc.send_signal(signal.SIGKILL)
    killed_at = time.time()
    proc.communicate()
    return run, killed_at - (run / rd.CHECKPOINT).stat().st_mtime, proc.returncode


def test_kill_9_at_random_moments_then_resume_reproduces_the_uninterrupted_run(tmp_path,
                                                                               reference):
    with ThreadPoolExecutor(2) as pool:  # 20 runs, two at a time
        killed = list(pool.map(lambda seed: start_and_kill(seed, tmp_path), range(20)))
    expected = rows(reference)
    for run, lag, code in killed:
        if code == -signal.SIGKILL:
            # At most one checkpoint interval of work is redone: the last checkpoint is no
            # older than the interval plus one round and the time to write it.
            assert lag < 0.25 + 1.5, lag
        assert main(["train", "--resume", str(run), "--quiet"]) == 0  # in-process: faster
        assert rows(run) == expected
    assert sum(code == -signal.SIGKILL for _, _, code in killed) >= 15  # killed mid-run


@pytest.fixture
def stopped_run(tmp_path, reference) -> Path:
    """A copy of the reference run's directory, as if stopped after its last checkpoint."""
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    return run


def resume(run: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "keras_pg", "train", "--quiet", "--resume",
                           str(run)], cwd=ROOT, capture_output=True, text=True, timeout=300)


def truncate(path: Path, keep: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


DAMAGE = {
    "truncated checkpoint": (lambda run: truncate(run / rd.CHECKPOINT, 0.5),
                             "/checkpoint.npz is damaged (not a .npz archive"),
    "random checkpoint": (lambda run: (run / rd.CHECKPOINT).write_bytes(os.urandom(5000)),
                          "/checkpoint.npz is damaged (not a .npz archive"),
    "flipped byte": (lambda run: flip_byte(run / rd.CHECKPOINT),
                     "/checkpoint.npz is damaged ("),
    "string gamma": (lambda run: edit_config(run, gamma="0.99"),
                     "/config.json: gamma must be a number, got '0.99'"),
    "unknown key": (lambda run: edit_config(run, gamm=0.9),
                    "/config.json: unknown config keys ['gamm']"),
    "config edited": (lambda run: edit_config(run, gamma=0.9),
                      "/config.json differs from the config checkpoint.npz was written with "
                      "(changed: gamma)"),
    "other env": (lambda run: edit_config(run, env_id="Acrobot-v1"),
                  "the env's observation space"),
    "metrics truncated": (lambda run: truncate(run / rd.METRICS, 0.3),
                          "/metrics.csv has "),
    "metrics deleted": (lambda run: (run / rd.METRICS).unlink(), "/metrics.csv is missing"),
    "metrics edited": (lambda run: edit_metrics(run), "/metrics.csv differs from what the "
                                                      "checkpoint recorded"),
    "updates truncated": (lambda run: truncate(run / rd.UPDATES, 0.5), "/updates.csv has "),
    "not json": (lambda run: (run / rd.CONFIG).write_text("{"), "/config.json is not valid JSON"),
}


def files(run: Path) -> dict[str, bytes]:
    """Every file of a run directory (TensorBoard's events included) but the lock."""
    return {str(p.relative_to(run)): p.read_bytes() for p in run.rglob("*")
            if p.is_file() and p.name != rd.LOCK}


def flip_byte(path: Path) -> None:
    """One byte of the weights changed: the zip's CRC (or the checksum) must notice."""
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))


def edit_config(run: Path, **changes) -> None:
    config = json.loads((run / rd.CONFIG).read_text())
    (run / rd.CONFIG).write_text(json.dumps({**config, **changes}))


def edit_metrics(run: Path) -> None:
    lines = (run / rd.METRICS).read_text().splitlines(keepends=True)
    lines[3] = lines[3].replace(",", ",9", 1)
    (run / rd.METRICS).write_text("".join(lines))


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_run_dir_is_one_line_and_nothing_is_touched(stopped_run, damage):
    do_damage, message = DAMAGE[damage]
    do_damage(stopped_run)
    before = files(stopped_run)
    proc = resume(stopped_run)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith("error: ") and message in proc.stderr, proc.stderr
    assert files(stopped_run) == before


def test_a_damaged_latest_checkpoint_names_the_intact_previous_one(stopped_run, reference):
    previous = stopped_run / rd.PREVIOUS_CHECKPOINT
    assert previous.exists()
    truncate(stopped_run / rd.CHECKPOINT, 0.5)
    proc = resume(stopped_run)
    assert proc.returncode == 2
    assert ("checkpoint.prev.npz is intact" in proc.stderr
            and f"mv {previous} {stopped_run / rd.CHECKPOINT}" in proc.stderr), proc.stderr
    os.replace(previous, stopped_run / rd.CHECKPOINT)  # as the message says
    assert resume(stopped_run).returncode == 0
    assert rows(stopped_run) == rows(reference)


def test_the_checkpoint_records_what_it_belongs_to(reference):
    arrays, state = checkpoint.read(reference / rd.CHECKPOINT)
    assert state["config"] == RunDir(reference).read_config()
    assert state["spaces"] == RunDir(reference).read_spaces()
    assert state["env_id"] == "CartPole-v1"
    assert state["progress"]["episodes"] == len(RunDir(reference).episodes())
    assert state["arrays_sha256"] == checkpoint.arrays_digest(arrays)
    assert np.isfinite(arrays["model_0"]).all()


def written_before(run: Path, *fields: str) -> None:
    """Make `run` look written by a keras_pg whose Config had no `fields` yet."""
    arrays, state = checkpoint.read(run / rd.CHECKPOINT)
    for name in fields:
        del state["config"][name]
    state["config_sha256"] = checkpoint.config_digest(state["config"])
    np.savez(run / rd.CHECKPOINT, **arrays, **{checkpoint.STATE: np.array(json.dumps(state))})
    config = RunDir(run).read_config()
    write_json(run / rd.CONFIG, {k: v for k, v in config.items() if k not in fields})


def test_a_run_dir_from_before_a_config_field_existed_resumes(stopped_run, reference):
    written_before(stopped_run, "precision", "bootstrap_truncated")
    proc = resume(stopped_run)
    assert proc.returncode == 0, proc.stderr
    assert rows(stopped_run) == rows(reference)
    # The missing field means its default: asking for another value is a changed config.
    written_before(stopped_run, "precision")
    edit_config(stopped_run, precision="bfloat16")
    proc = resume(stopped_run)
    assert proc.returncode == 2 and "(changed: precision)" in proc.stderr, proc.stderr
