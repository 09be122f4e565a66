"""TensorBoard event files of a run, read back with tensorboard's own EventAccumulator."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2
from tensorboard.util import tensor_util

import keras_pg
from keras_pg.cli import main
from keras_pg.run import checkpoint
from keras_pg.run import run_dir as rd
from keras_pg.run.run_dir import TENSORBOARD, RunDir

ROOT = Path(__file__).resolve().parents[1]
CHARTS = {"charts/episodic_return", "charts/episodic_return_min", "charts/episodic_return_max",
          "charts/episode_length", "charts/mean_return", "charts/steps_per_s"}
LOSSES = {"losses/policy", "losses/value", "losses/entropy", "losses/grad_norm"}


def events(run_dir: Path) -> EventAccumulator:
    accumulator = EventAccumulator(str(run_dir / TENSORBOARD), size_guidance={"tensors": 0})
    accumulator.Reload()
    return accumulator


def series(accumulator: EventAccumulator, tag: str) -> list[tuple[int, float]]:
    """(step, value) of a scalar tag (tf.summary writes scalars as tensors)."""
    return [(e.step, float(tensor_util.make_ndarray(e.tensor_proto)))
            for e in accumulator.Tensors(tag)]


def test_a_run_writes_charts_losses_histograms_and_hparams(tmp_path):
    agent = keras_pg.REINFORCE("CartPole-v1", run_dir=tmp_path, baseline="value",
                               max_steps=15_000, eval_episodes=5, histogram_every=2)
    summary = agent.learn()
    accumulator = events(tmp_path)
    tags = set(accumulator.Tags()["tensors"])
    assert CHARTS | LOSSES | {"losses/explained_variance", "actions/prob_0", "actions/prob_1",
                              "results/eval_mean_return", "_hparams_/session_start_info"} <= tags
    assert {t for t in tags if t.startswith("weights/")} >= {"weights/hidden_0/kernel"}
    updates = RunDir(tmp_path).updates()
    steps = [step for step, _ in series(accumulator, "losses/policy")]
    assert steps == [row[2] for row in updates]  # one point per update, at its env steps
    np.testing.assert_allclose([v for _, v in series(accumulator, "losses/policy")],
                               [row[3] for row in updates], rtol=1e-6)
    returns = [row[2] for row in RunDir(tmp_path).episodes()]
    first_round = returns[: agent.config.episodes_per_update]
    assert series(accumulator, "charts/episodic_return_max")[0][1] == max(first_round)
    assert series(accumulator, "results/eval_mean_return") == [
        (summary["env_steps"], pytest.approx(summary["eval_mean_return"]))]
    histogram_steps = [e.step for e in accumulator.Tensors("actions/prob_0")]
    assert histogram_steps == steps[::2]  # every second update
    start = plugin_data_pb2.HParamsPluginData.FromString(
        accumulator.SummaryMetadata("_hparams_/session_start_info").plugin_data.content)
    assert start.session_start_info.hparams["lr"].number_value == agent.config.lr
    assert start.session_start_info.hparams["env_id"].string_value == "CartPole-v1"


def test_the_graph_backend_and_a_gaussian_policy_write_events_too(tmp_path):
    agent = keras_pg.REINFORCE("Pendulum-v1", backend="graph", run_dir=tmp_path, num_envs=8,
                               episodes_per_update=8, max_steps=4000, eval_episodes=1)
    agent.learn()
    tags = set(events(tmp_path).Tags()["tensors"])
    assert CHARTS | {"actions/mean_0", "actions/log_std"} <= tags


def test_no_tensorboard_writes_no_events(tmp_path):
    keras_pg.REINFORCE("CartPole-v1", run_dir=tmp_path, tensorboard=False, max_steps=2000,
                       eval_episodes=1).learn()
    assert not (tmp_path / TENSORBOARD).exists()


def updates_logged(run: Path) -> int:
    if not (run / TENSORBOARD).exists():
        return 0
    accumulator = events(run)
    return (len(accumulator.Tensors("losses/policy"))
            if "losses/policy" in accumulator.Tags()["tensors"] else 0)


def test_a_resumed_run_continues_its_curves_without_duplicated_or_backward_steps(tmp_path):
    run = tmp_path / "run"
    flags = ["--max-steps", "40000", "--num-envs", "8", "--episodes-per-update", "8",
             "--eval-episodes", "2", "--target-return", "1e9", "--quiet"]
    proc = subprocess.Popen([sys.executable, "-m", "keras_pg", "train", "--run-dir", str(run),
                             "--checkpoint-every", "1000", *flags], cwd=ROOT)
    deadline = time.monotonic() + 90
    while updates_logged(run) < 5:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)  # events of 5+ updates, a checkpoint of none of them
    proc.wait()
    assert checkpoint.read(run / rd.CHECKPOINT)[1]["progress"]["updates"] == 0
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    accumulator = events(run)
    for tag in CHARTS | LOSSES:
        steps = [step for step, _ in series(accumulator, tag)]
        assert steps == sorted(set(steps)), tag  # strictly increasing: no duplicates
    assert [s for s, _ in series(accumulator, "losses/policy")] == [
        row[2] for row in RunDir(run).updates()]
    assert len(accumulator.Tensors("_hparams_/session_start_info")) == 1


def test_an_unwritable_tb_is_one_line_and_exit_74_like_every_run_file(tmp_path, capsys):
    run = tmp_path / "run"
    keras_pg.REINFORCE("CartPole-v1", run_dir=run, max_steps=400, eval_episodes=1)
    (run / TENSORBOARD).write_text("not a directory")
    assert main(["train", "--resume", str(run), "--quiet"]) == 74
    assert capsys.readouterr().err == (f"error: cannot write the run: {run / TENSORBOARD}: Not a "
                                       f"directory\n")


def test_an_event_file_failing_mid_run_is_an_oserror_naming_tb(tmp_path, monkeypatch):
    import tensorflow as tf

    scalar, calls = tf.summary.scalar, []

    def failing_scalar(*args, **kwargs):  # as TF fails when the event file turns unwritable
        calls.append(1)
        if len(calls) > 20:
            raise tf.errors.PermissionDeniedError(None, None, "events.out.tfevents.1: "
                                                  "Permission denied")
        return scalar(*args, **kwargs)

    agent = keras_pg.REINFORCE("CartPole-v1", run_dir=tmp_path, max_steps=3000,
                               eval_episodes=1, num_envs=4, episodes_per_update=4)
    monkeypatch.setattr(tf.summary, "scalar", failing_scalar)
    with pytest.raises(PermissionError, match=rf"^\[Errno 13\] events.out.tfevents.1: "
                                              rf"Permission denied: '{tmp_path / TENSORBOARD}'$"):
        agent.learn()
    assert agent.progress.updates >= 1  # it failed mid-run, after updates were logged
