"""Environments from the shell: module:EnvId, --env-kwargs, --max-episode-steps, time limits."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from keras_pg.run import run_dir as rd
from keras_pg.run.run_dir import RunDir
from tests.custom_envs import write_env_module

ROOT = Path(__file__).resolve().parents[1]
ENV = {"PYTHONPATH": str(ROOT)}  # keras_pg from the repository; myenv from the cwd


def run(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **ENV})


def test_a_users_env_module_trains_from_the_cli_and_serves_from_its_metadata(tmp_path):
    write_env_module(tmp_path)
    train = run(tmp_path, "keras_pg", "train", "--env", "myenv:GoLeft-v0", "--env-kwargs",
                '{"length": 4}', "--run-dir", "run", "--quiet", "--lr", "0.01",
                "--max-steps", "30000", "--eval-episodes", "10")
    assert train.returncode == 0, train.stderr
    config = json.loads((tmp_path / "run" / rd.CONFIG).read_text())
    assert config["env_id"] == "myenv:GoLeft-v0" and config["env_kwargs"] == {"length": 4}
    summary = json.loads((tmp_path / "run" / rd.SUMMARY).read_text())
    assert summary["eval_mean_return"] == -3.0  # three steps left: the optimum for length 4
    exported = run(tmp_path, "export", "run")
    assert exported.returncode == 0, exported.stderr
    # serve rebuilds GoLeft-v0 with length 4 (a 4-wide observation) from the ONNX metadata
    served = run(tmp_path, "serve", "run/policy.onnx", "--episodes", "5")
    assert served.returncode == 0, served.stderr
    assert served.stdout.startswith("myenv:GoLeft-v0: return -3.0 ± 0.0 over 5 episodes")
    evaluated = run(tmp_path, "keras_pg", "evaluate", "run", "--episodes", "5")
    assert evaluated.returncode == 0 and "greedy return -3.0" in evaluated.stdout


def test_an_env_without_a_time_limit_is_capped_with_a_warning(tmp_path):
    proc = run(ROOT, "keras_pg", "train", "--env", "CliffWalking-v1", "--run-dir",
               str(tmp_path / "run"), "--max-steps", "3000", "--eval-episodes", "1",
               "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert ("warning: CliffWalking-v1 has no time limit; episodes are capped at 1,000 steps "
            "(set max_episode_steps / --max-episode-steps to choose another)") in proc.stderr
    assert json.loads((tmp_path / "run" / rd.CONFIG).read_text())["max_episode_steps"] == 1000
    lengths = [row[3] for row in RunDir(tmp_path / "run").episodes()]
    assert max(lengths) == 1000  # a random walk on the cliff does not find the goal in time


def test_max_episode_steps_sets_the_time_limit(tmp_path):
    proc = run(ROOT, "keras_pg", "train", "--env", "CliffWalking-v1", "--max-episode-steps",
               "40", "--run-dir", str(tmp_path / "run"), "--max-steps", "2000",
               "--eval-episodes", "1", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr
    lengths = [row[3] for row in RunDir(tmp_path / "run").episodes()]
    assert max(lengths) == 40


@pytest.mark.parametrize("flags,message", [
    (["--env-kwargs", "[1, 2]"], "error: --env-kwargs must be a JSON object such as "
                                 "'{\"is_slippery\": false}'; got list '[1, 2]'"),
    (["--env-kwargs", "{is_slippery: false}"], "error: --env-kwargs must be a JSON object"),
    (["--env", "FrozenLake-v1", "--env-kwargs", '{"slippery": false}'],
     "error: FrozenLake-v1 does not accept the env kwarg 'slippery'"),
    (["--env", "nosuchmodule:Env-v0"], "error: cannot import module 'nosuchmodule' for env "
                                       "'nosuchmodule:Env-v0': ModuleNotFoundError"),
    (["--network", "cnn"], "error: network cnn needs (H, W, C) observations; got shape (4,)"),
    (["--max-episode-steps", "0"], "error: max_episode_steps must be a positive integer"),
])
def test_bad_env_flags_exit_2_in_one_line_with_nothing_written(tmp_path, flags, message):
    proc = run(ROOT, "keras_pg", "train", *flags, "--run-dir", str(tmp_path / "run"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().startswith(message), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()
