"""keras_pg.REINFORCE, the Python API: learn, predict, evaluate, save, load, export."""

import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import export
import keras_pg
import serve
from keras_pg.cli import main
from keras_pg.run import run_dir as rd
from keras_pg.run.run_dir import RunDir
from tests.custom_envs import import_env_module

ROOT = Path(__file__).resolve().parents[1]
QUICK = {"eval_episodes": 5}


@pytest.fixture
def myenv(tmp_path):
    return import_env_module(tmp_path)


def test_a_callable_env_trains_predicts_evaluates_and_exports(myenv, tmp_path):
    agent = keras_pg.REINFORCE(myenv.make_go_left, seed=0, num_envs=8, episodes_per_update=8,
                               lr=0.01, max_episode_steps=20, **QUICK)
    assert agent.config.env_id == "<myenv.make_go_left>"
    summary = agent.learn(max_steps=6000)
    assert summary["env_steps"] >= 6000 and summary["stop_reason"] in ("solved", "max_steps")
    assert agent.evaluate(episodes=10)["mean_return"] == -4.0  # straight to the left end
    start = np.eye(5, dtype=np.float32)[4]
    assert agent.predict(start) == 0 and isinstance(agent.predict(start), int)
    actions = agent.predict(np.eye(5, dtype=np.float32)[1:])
    assert actions.dtype == np.int64 and actions.tolist() == [0, 0, 0, 0]
    report = export.to_onnx(agent, tmp_path / "p.onnx")
    assert report["action_agreement"] == 1.0
    assert report["observations"] == {"sampled": 1000, "rollout": 1000}  # kept from training
    policy = serve.OnnxPolicy(tmp_path / "p.onnx")
    assert policy.metadata["env_id"] == "<myenv.make_go_left>"
    assert policy.act(start) == 0


def test_learn_twice_equals_one_longer_learn(tmp_path):
    settings = {"seed": 3, "num_envs": 16, "episodes_per_update": 16, **QUICK}
    once = keras_pg.REINFORCE("CartPole-v1", **settings)
    once.learn(max_steps=12_000)
    twice = keras_pg.REINFORCE("CartPole-v1", **settings)
    twice.learn(max_steps=5_000)
    middle = twice.progress.env_steps
    twice.learn(max_steps=7_000)
    assert 5_000 <= middle < once.progress.env_steps
    assert [r[:4] for r in twice.history] == [r[:4] for r in once.history]
    for a, b in zip(once.model.weights, twice.model.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_the_api_and_the_cli_give_the_same_metrics(tmp_path):
    flags = ["--seed", "5", "--max-steps", "8000", "--eval-episodes", "5", "--num-envs", "8",
             "--episodes-per-update", "8", "--lr", "0.01"]
    assert main(["train", "--run-dir", str(tmp_path / "cli"), "--quiet",
                 *flags]) == 0
    agent = keras_pg.REINFORCE("CartPole-v1", run_dir=tmp_path / "api", seed=5, max_steps=8000,
                               eval_episodes=5, num_envs=8, episodes_per_update=8, lr=0.01)
    agent.learn()
    for read in (RunDir.episodes, RunDir.updates):
        cli, api = (read(RunDir(tmp_path / d)) for d in ("cli", "api"))
        assert len(cli) >= 10
        np.testing.assert_array_equal(np.array(cli)[:, :-1], np.array(api)[:, :-1])  # not wall_s
    assert (RunDir(tmp_path / "cli").read_config()
            == RunDir(tmp_path / "api").read_config())


def test_save_load_continue_and_predict(tmp_path):
    agent = keras_pg.REINFORCE("CartPole-v1", seed=1, num_envs=8, episodes_per_update=8,
                               **QUICK)
    agent.learn(max_steps=3000)
    saved = agent.save(tmp_path / "run")
    for name in (rd.CONFIG, rd.SPACES, rd.CHECKPOINT, rd.METRICS, rd.UPDATES, rd.MODEL,
                 rd.SUMMARY, rd.CURVE, rd.OBSERVATIONS):
        assert (saved / name).stat().st_size > 0, name
    loaded = keras_pg.REINFORCE.load(saved)
    obs = np.random.default_rng(0).uniform(-1, 1, (50, 4))
    np.testing.assert_array_equal(loaded.predict(obs), agent.predict(obs))
    assert loaded.progress == agent.progress
    agent.learn(max_steps=2000)
    loaded.learn(max_steps=2000)
    assert [r[:4] for r in loaded.history] == [r[:4] for r in agent.history]


def test_predict_checks_its_input_in_one_line():
    agent = keras_pg.REINFORCE("CartPole-v1", **QUICK)
    with pytest.raises(ValueError, match=r"obs has shape \(3,\); expected \(4,\)"):
        agent.predict([0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="NaN or inf"):
        agent.predict([0.0, np.nan, 0.0, 0.0])
    sampled = agent.predict(np.zeros((2000, 4)), deterministic=False)
    assert 0.3 < sampled.mean() < 0.7  # an untrained policy samples both actions


def test_gaussian_predict_is_clipped_to_the_bounds():
    agent = keras_pg.REINFORCE("Pendulum-v1", preset="none", initial_log_std=2.0, **QUICK)
    agent.model.get_layer("mean").bias.assign([5.0])  # a mean beyond the bound
    obs = np.zeros((500, 3), np.float32)
    assert np.all(agent.predict(obs) == 2.0)
    sampled = agent.predict(obs, deterministic=False)
    assert sampled.shape == (500, 1) and sampled.min() >= -2.0 and sampled.max() <= 2.0
    assert (sampled < 2.0).any()


def test_a_library_leaves_its_users_process_as_it_found_it(tmp_path):
    script = f"""
import os, random, signal, sys
import matplotlib
matplotlib.use("pdf")
random.seed(7)
before = (matplotlib.get_backend(), sys.stderr, os.fstat(2).st_ino, random.getstate(),
          signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM),
          os.environ.get("TF_CPP_MIN_LOG_LEVEL"))
import keras_pg
agent = keras_pg.REINFORCE("CartPole-v1", run_dir={str(tmp_path / 'run')!r}, max_steps=3000,
                           eval_episodes=3)
agent.learn()
after = (matplotlib.get_backend(), sys.stderr, os.fstat(2).st_ino, random.getstate(),
         signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM),
         os.environ.get("TF_CPP_MIN_LOG_LEVEL"))
assert before == after, [(a, b) for a, b in zip(before, after) if a != b]
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""  # verbose=0 prints nothing
    assert (tmp_path / "run" / rd.CURVE).exists()


class NotAnEnvFactory:
    def __call__(self):
        return 42


@pytest.mark.parametrize("make,error,message", [
    (lambda myenv: gym.make("CartPole-v1"), TypeError,
     "env must be a gymnasium id, 'module:EnvId' or a function that returns a gymnasium.Env; "
     "got an instance of TimeLimit"),
    (lambda myenv: NotAnEnvFactory(), TypeError,
     "env factory <tests.test_api.NotAnEnvFactory> returned int; expected a gymnasium.Env"),
    (lambda myenv: "nosuchmodule:GoLeft-v0", ValueError,
     "cannot import module 'nosuchmodule' for env 'nosuchmodule:GoLeft-v0': "
     "ModuleNotFoundError: No module named 'nosuchmodule'"),
    (lambda myenv: "myenv:GoRight-v0", ValueError,
     "unknown gymnasium env id 'GoRight-v0' (module 'myenv' was imported but registers no such "
     "id)"),
])
def test_bad_envs_are_one_line_errors_and_nothing_is_written(myenv, tmp_path, make, error,
                                                             message):
    with pytest.raises(error) as info:
        keras_pg.REINFORCE(make(myenv), run_dir=tmp_path / "run")
    assert str(info.value).startswith(message) and "\n" not in str(info.value)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("settings,message", [
    ({"env_kwargs": {"lenght": 3}}, "myenv:GoLeft-v0 does not accept the env kwarg 'lenght'"),
    ({"lrr": 0.1}, "unknown setting 'lrr'; did you mean lr?"),
    ({"num_envs": 0}, "num_envs must be a positive integer, got 0"),
    ({"network": "cnn"}, "network cnn needs (H, W, C) observations; got shape (5,)"),
])
def test_bad_settings_are_one_line_errors_and_nothing_is_written(myenv, tmp_path, settings,
                                                                 message):
    with pytest.raises((ValueError, TypeError)) as info:
        keras_pg.REINFORCE("myenv:GoLeft-v0", run_dir=tmp_path / "run", **settings)
    assert str(info.value).startswith(message), str(info.value)
    assert not (tmp_path / "run").exists()


def test_the_run_dir_records_what_export_and_serve_need(myenv, tmp_path):
    agent = keras_pg.REINFORCE("myenv:GoLeft-v0", env_kwargs={"length": 7},
                               run_dir=tmp_path / "run", seed=0, max_steps=2000, **QUICK)
    agent.learn()
    spaces = json.loads((tmp_path / "run" / rd.SPACES).read_text())
    assert spaces["observation_space"]["shape"] == [7]
    assert spaces["action_space"] == {"type": "Discrete", "n": 2, "start": 0}
    assert np.load(tmp_path / "run" / rd.OBSERVATIONS).shape[1:] == (7,)
