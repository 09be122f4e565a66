"""Edges of the Python API and the run directory an adversarial pass found: two writers
through load(), config files that are not JSON text, bools as counts, observations numpy
would quietly bend, overflowing policies, and envs of the old gym API."""

import gymnasium as gym
import numpy as np
import pytest

import export
import keras_pg
import serve
from keras_pg.cli import main
from keras_pg.run import checkpoint
from keras_pg.run import run_dir as rd
from keras_pg.run.run_dir import RunDir

SMALL = {"num_envs": 4, "episodes_per_update": 4, "eval_episodes": 1, "seed": 3}


def progress(run) -> dict:
    return checkpoint.read(run / rd.CHECKPOINT)[1]["progress"]


def test_a_stale_writer_through_load_is_refused_and_loses_no_training(tmp_path):
    run = tmp_path / "run"
    keras_pg.REINFORCE("CartPole-v1", run_dir=run, **SMALL)
    first, second = keras_pg.REINFORCE.load(run), keras_pg.REINFORCE.load(run)
    first.learn(max_steps=1500)
    trained, rows = progress(run), RunDir(run).episodes()
    assert trained["env_steps"] >= 1500
    stale = (rf"^{run} was written by another agent or process since this one loaded or last "
             rf"wrote it \(it holds {trained['env_steps']:,} env steps, this agent 0\); nothing "
             rf"was written: load it again")
    for write in (lambda: second.learn(max_steps=100), second.save,
                  lambda: export.to_onnx(second)):
        with pytest.raises(rd.RunDirError, match=stale):
            write()
    assert progress(run) == trained and RunDir(run).episodes() == rows
    # The writer that is current goes on: its budget counts from 1,500, past the overshoot of
    # the round in flight (at most 4 episodes of 500 steps).
    first.learn(max_steps=2500)
    again = keras_pg.REINFORCE.load(run)  # and a fresh load continues from its work
    assert again.progress.env_steps == progress(run)["env_steps"] > trained["env_steps"]
    again.learn(max_steps=100)
    with pytest.raises(rd.RunDirError, match="was written by another agent"):
        first.learn(max_steps=100)


@pytest.mark.parametrize("damage,message", [
    (lambda path: path.write_bytes(b"\xff\xfe{\x00}"), "is not a JSON text file (byte 0 is not "
                                                       "UTF-8)"),
    (lambda path: path.mkdir(), "is a directory; expected a JSON file"),
    (lambda path: path.write_text("[1, 2]"), "does not hold a JSON object; expected a keras_pg "
                                             "JSON file"),
])
def test_a_config_file_that_is_not_json_text_is_one_line_exit_2(tmp_path, capsys, damage,
                                                                 message):
    path = tmp_path / "config.json"
    damage(path)
    assert main(["train", "--config", str(path), "--run-dir", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == f"error: {path} {message}\n"
    assert not (tmp_path / "run").exists()


def test_a_binary_config_json_on_resume_is_one_line_exit_2(tmp_path, capsys):
    run = tmp_path / "run"
    keras_pg.REINFORCE("CartPole-v1", run_dir=run, **SMALL)
    (run / rd.CONFIG).write_bytes(bytes(range(256)))
    assert main(["train", "--resume", str(run), "--quiet"]) == 2
    assert capsys.readouterr().err == (f"error: {run / rd.CONFIG} is not a JSON text file "
                                       f"(byte 128 is not UTF-8)\n")


def test_counts_are_ints_not_bools():
    agent = keras_pg.REINFORCE("CartPole-v1", **SMALL)
    with pytest.raises(ValueError, match=r"^max_steps must be a positive integer or None, "
                                         r"got True$"):
        agent.learn(max_steps=True)
    with pytest.raises(ValueError, match=r"^episodes must be a positive integer, got True$"):
        agent.evaluate(episodes=True)


def test_predict_refuses_what_numpy_would_bend_and_agrees_with_onnx_policy(tmp_path):
    agent = keras_pg.REINFORCE("CartPole-v1", **SMALL)
    with pytest.raises(ValueError, match=r"^obs contains NaN or inf; expected finite numbers$"):
        agent.predict([10**400, 0, 0, 0])  # beyond float64: not an OverflowError
    with pytest.raises(ValueError, match=r"^obs must be real numbers with shape \(4,\), got "
                                         r"complex values$"):
        agent.predict(np.array([1 + 2j, 0, 0, 0]))  # not its real part, silently
    kernel = agent.model.weights[0]
    kernel.assign(kernel * 1e3)  # a network that large observations overflow
    export.to_onnx(agent, tmp_path / "policy.onnx")
    policy = serve.OnnxPolicy(tmp_path / "policy.onnx")
    huge = np.array([1e37, -1e37, 1e37, -1e37], np.float32)  # finite; the logits are NaN
    errors = []
    for act in (agent.predict, policy.act):
        with pytest.raises(serve.NonFiniteOutputError) as info:
            act(huge)
        errors.append(str(info.value))
    assert errors[0] == errors[1]
    assert errors[0].startswith("policy output 'probs' is NaN or inf for observation 0 (of 1)")


class OldGymEnv(gym.Env):
    """An env of the gym < 0.26 API: step returns (obs, reward, done, info)."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return np.zeros(2, np.float32), 1.0, False, {}


def test_an_env_of_the_old_gym_api_is_one_line_at_construction(tmp_path):
    with pytest.raises(ValueError, match=r"^the env <tests.test_api_edges.OldGymEnv>: step\(\) "
                                         r"returned 4 values; expected \(observation, reward, "
                                         r"terminated, truncated, info\)"):
        keras_pg.REINFORCE(OldGymEnv, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_an_agent_without_a_run_dir_exports_to_a_path_and_names_what_is_missing(tmp_path):
    agent = keras_pg.REINFORCE("CartPole-v1", **SMALL)
    with pytest.raises(export.ExportError, match=r"^no run directory to write into \(a "
                       r"keras.Model, or an agent without run_dir\): pass the output path$"):
        export.to_onnx(agent)
    report = export.to_onnx(agent, tmp_path / "p.onnx")
    assert report["action_agreement"] == 1.0 and (tmp_path / "p.onnx").exists()
    assert not list(tmp_path.glob("export_report*.json"))  # no run directory: no report file
