"""Keras callbacks in `REINFORCE.learn`, driven as model.fit drives them (one epoch per update)."""

import csv

import keras
import numpy as np
import pytest

import keras_pg
from keras_pg.algorithm.update import NonFiniteLossError
from keras_pg.callbacks import LOG_KEYS

SMALL = {"seed": 0, "num_envs": 8, "episodes_per_update": 8, "eval_episodes": 2}


def test_lambda_callback_sees_every_update_with_its_metrics():
    events = []
    callback = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: events.append("begin"),
        on_epoch_end=lambda epoch, logs: events.append((epoch, dict(logs))),
        on_train_end=lambda logs: events.append("end"))
    agent = keras_pg.REINFORCE("CartPole-v1", **SMALL)
    agent.learn(max_steps=3000, callbacks=[callback])
    epochs = [e for e in events if isinstance(e, tuple)]
    assert events[0] == "begin" and events[-1] == "end"
    assert [epoch for epoch, _ in epochs] == list(range(agent.progress.updates))
    for _, logs in epochs:
        assert set(LOG_KEYS) <= set(logs)
    last = epochs[-1][1]
    assert last["env_steps"] == agent.progress.env_steps
    assert last["mean_return"] == pytest.approx(agent.recent_mean_return)
    assert last["loss"] == pytest.approx(agent.updates[-1].loss)
    assert np.isnan(last["explained_variance"])  # no value baseline


def test_early_stopping_on_mean_return_stops_and_saves(tmp_path):
    stopper = keras.callbacks.EarlyStopping(monitor="mean_return", mode="max", patience=0,
                                            min_delta=1e9)  # nothing is ever an improvement
    agent = keras_pg.REINFORCE("CartPole-v1", run_dir=tmp_path, **SMALL)
    summary = agent.learn(max_steps=100_000, callbacks=[stopper])
    assert summary["stop_reason"] == "callback"
    assert agent.progress.updates == 2  # the first sets the best, the second stops
    assert stopper.stopped_epoch == 1
    reloaded = keras_pg.REINFORCE.load(tmp_path)
    assert reloaded.progress.updates == 2 and reloaded.progress.env_steps < 100_000


def test_csv_logger_writes_a_row_per_update(tmp_path):
    path = tmp_path / "log.csv"
    agent = keras_pg.REINFORCE("CartPole-v1", **SMALL)
    agent.learn(max_steps=2000, callbacks=[keras.callbacks.CSVLogger(str(path))])
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == agent.progress.updates
    assert [int(r["epoch"]) for r in rows] == list(range(len(rows)))
    assert [int(r["env_steps"]) for r in rows] == [u.env_steps for u in agent.updates]


def exploding_agent():
    """An lr so large that the first update sends the logits to inf: the second loss is NaN."""
    return keras_pg.REINFORCE("CartPole-v1", lr=1e30, **SMALL)


def test_terminate_on_nan_stops_training_on_a_non_finite_loss():
    agent = exploding_agent()
    summary = agent.learn(max_steps=20_000, callbacks=[keras.callbacks.TerminateOnNaN()])
    assert summary["stop_reason"] == "callback"
    assert agent.progress.env_steps < 20_000


def test_without_a_callback_a_non_finite_loss_is_an_error():
    agent = exploding_agent()
    with pytest.raises(NonFiniteLossError, match="lower --lr"):
        agent.learn(max_steps=20_000)


def test_stop_training_from_a_custom_callback():
    class StopAtThree(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                self.model.stop_training = True

    agent = keras_pg.REINFORCE("CartPole-v1", **SMALL)
    assert agent.learn(max_steps=50_000, callbacks=[StopAtThree()])["stop_reason"] == "callback"
    assert agent.progress.updates == 3


def test_callbacks_must_be_keras_callbacks():
    agent = keras_pg.REINFORCE("CartPole-v1", **SMALL)
    with pytest.raises(TypeError, match=r"callbacks must be keras\.callbacks\.Callback objects"):
        agent.learn(max_steps=100, callbacks=[print])
