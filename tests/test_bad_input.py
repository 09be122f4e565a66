"""Bad input to training, row by row: each a one-line error with its exit code (or a correct
result), nothing half written, nothing lost. Export and serve rows are in
test_bad_input_export_serve.py, damaged run directories in test_run_dir_integrity.py."""

import errno
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import keras_pg
from keras_pg.backends.rollout import EnvOutputError
from keras_pg.cli import main
from keras_pg.run import files
from keras_pg.run import run_dir as rd
from keras_pg.run.run_dir import RunDir

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "keras_pg", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("flags,message", [
    (["--seed", "-1"], "error: seed must be an integer in [0, 4294967295], got -1"),
    (["--seed", "4294967296"], "error: seed must be an integer in [0, 4294967295], got "
                               "4294967296"),
    (["--checkpoint-every", "nan"], "error: --checkpoint-every must be a positive number of "
                                    "seconds, got nan"),
    (["--checkpoint-every", "0"], "error: --checkpoint-every must be a positive number"),
    (["--eval-episodes", "-3"], "error: eval_episodes must be 0 or a positive integer"),
    (["--env", "CartPole-v1", "--env-kwargs", '{"render_mode": 3, "x": NaN}'],
     "error: env_kwargs must hold JSON values"),
])
def test_invalid_flags_exit_2_in_one_line_before_anything_is_written(tmp_path, flags,
                                                                     message):
    proc = cli("train", *flags, "--run-dir", str(tmp_path / "run"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().startswith(message), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()


def test_far_more_envs_than_a_round_needs_is_a_one_line_warning(tmp_path):
    proc = cli("train", "--num-envs", "40", "--episodes-per-update", "8", "--max-steps", "500",
               "--eval-episodes", "1", "--quiet", "--run-dir",
               str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == (
        "warning: num_envs 40 is more than a round needs: a round plays episodes_per_update 8 "
        "episodes, so 32 envs would idle (use 8 or fewer)")


def test_ctrl_c_during_start_up_is_one_line_exit_130_and_nothing_written(tmp_path):
    # Ctrl-C's default action, even if this test runs where SIGINT is ignored (a background
    # job): an ignored SIGINT stays ignored in the child, and Python would never see it.
    proc = subprocess.Popen([sys.executable, "-m", "keras_pg", "train", "--run-dir",
                             str(tmp_path / "run")], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(0.8)  # TensorFlow is still being imported
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert stderr == "interrupted\n"
    assert not (tmp_path / "run").exists()


def test_a_full_disk_is_one_line_exit_74_and_nothing_half_written(tmp_path, monkeypatch,
                                                                  capsys):
    real = files.atomic_write
    calls = []

    def fill_up(path, write):
        calls.append(path)
        if len(calls) > 6:  # the run starts, then the disk fills up at a checkpoint
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, write)

    monkeypatch.setattr(files, "atomic_write", fill_up)
    code = main(["train", "--run-dir", str(tmp_path / "run"), "--max-steps", "20000",
                 "--checkpoint-every", "0.01", "--quiet"])
    err = capsys.readouterr().err
    assert code == 74
    assert err.startswith("error: cannot write the run: ") and "No space left on device" in err
    assert len(err.strip().splitlines()) == 1
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.startswith(".")
                and p.name != rd.LOCK]  # no temp files left


def test_max_steps_stops_starting_episodes_and_the_summary_says_what_was_used(tmp_path):
    # 2 envs, 64 episodes per round, a budget of 1 step: only the 2 episodes in flight run.
    agent = keras_pg.REINFORCE("CartPole-v1", num_envs=2, episodes_per_update=64,
                               eval_episodes=1, run_dir=tmp_path / "run")
    summary = agent.learn(max_steps=1)
    lengths = [row[3] for row in agent.history]
    assert len(lengths) == 2 and summary["env_steps"] == sum(lengths)
    assert summary["step_budget"] == 1 and summary["updates"] == 1
    assert RunDir(tmp_path / "run").read_summary()["env_steps"] == sum(lengths)


class NaNRewardEnv(gym.Env):
    """CartPole whose fourth step returns a NaN reward (or, with `where="obs"`, a NaN in
    the observation)."""

    def __init__(self, where="reward"):
        self.env, self.where = gym.make("CartPole-v1"), where
        self.observation_space, self.action_space = (self.env.observation_space,
                                                     self.env.action_space)

    def reset(self, *, seed=None, options=None):
        self.t = 0
        return self.env.reset(seed=seed)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.t += 1
        if self.t == 4:
            if self.where == "reward":
                reward = float("nan")
            else:
                obs = np.full_like(obs, np.inf)
        return obs, reward, terminated, truncated, info


@pytest.mark.parametrize("where,name,step", [("reward", "reward", 3),  # of the 4th step
                                             ("obs", "observation", 4)])  # acted on next
def test_an_env_returning_nan_is_blamed_before_the_update(where, name, step):
    agent = keras_pg.REINFORCE(lambda: NaNRewardEnv(where), max_episode_steps=50,
                               eval_episodes=1)
    before = [w.numpy().copy() for w in agent.model.weights]
    with pytest.raises(EnvOutputError, match=f"the env returned a non-finite {name}") as info:
        agent.learn(max_steps=1000)
    assert f"step {step} of env 0" in str(info.value) and "not a learning-rate problem" in str(
        info.value)
    for w, old in zip(agent.model.weights, before, strict=True):
        np.testing.assert_array_equal(w.numpy(), old)  # no update was made
