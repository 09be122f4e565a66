"""Greedy evaluations during training (eval_every): when they run, what they evaluate, that
they decide solving instead of the training mean, TensorBoard, and an exact resume."""

import numpy as np
import pytest

import keras_pg
from keras_pg.cli import main
from keras_pg.config import ConfigError
from keras_pg.evaluate import Evaluation
from keras_pg.run.run_dir import EvalRow, RunDir
from keras_pg.seeding import EVAL_STREAM, derived_seed

SETTINGS = dict(preset="none", max_steps=6000, eval_every=2000, eval_every_episodes=4,
                eval_episodes=0, seed=3)


def test_evaluations_follow_the_update_crossing_each_multiple_and_use_their_own_seeds(tmp_path):
    with keras_pg.REINFORCE("CartPole-v1", run_dir=tmp_path, **SETTINGS) as agent:
        summary = agent.learn()
        rows = RunDir(tmp_path).evals()
        updates = RunDir(tmp_path).updates()
        assert [row.evaluation for row in rows] == [1, 2, 3]
        for k, row in enumerate(rows, start=1):
            crossing = next(u for u in updates if u.env_steps >= 2000 * k)
            assert (row.update, row.env_steps) == (crossing.update, crossing.env_steps)
            assert row.episodes == 4
        # the last evaluation followed the last update: it is the final greedy policy's,
        # on the seeds of evaluation 3 (not those of the evaluation after training)
        assert rows[-1].update == summary["updates"]
        again = agent.evaluate(4, seed=derived_seed(3, EVAL_STREAM, 3))
        assert again["mean_return"] == rows[-1].mean_return
        assert agent.evaluate(4)["returns"] != agent.evaluate(
            4, seed=derived_seed(3, EVAL_STREAM, 3))["returns"]
    assert (summary["evaluations"], summary["last_eval_return"]) == (3, rows[-1].mean_return)
    assert summary["stop_reason"] == "max_steps"

    import tensorflow as tf
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "tb")).Reload().Tensors("eval/mean_return")
    assert [e.step for e in events] == [row.env_steps for row in rows]
    assert [float(tf.make_ndarray(e.tensor_proto)) for e in events] == pytest.approx(
        [row.mean_return for row in rows])


@pytest.mark.parametrize("backend", ["gym", "graph"])
def test_an_evaluation_not_the_training_mean_decides_solving(backend):
    settings = dict(SETTINGS, eval_every=3000, backend=backend, num_envs=8,
                    episodes_per_update=8, target_return=-1.0, solve_window=8)
    with keras_pg.REINFORCE("CartPole-v1", **{**settings, "eval_every": 0}) as agent:
        by_training_mean = agent.learn()
    with keras_pg.REINFORCE("CartPole-v1", **settings) as agent:
        by_evaluation = agent.learn()
    assert by_training_mean["stop_reason"] == by_evaluation["stop_reason"] == "solved"
    assert by_training_mean["env_steps"] < 1000 and by_training_mean["evaluations"] == 0
    assert by_evaluation["env_steps"] >= 3000 and by_evaluation["evaluations"] == 1
    assert by_evaluation["last_eval_return"] >= -1.0


def test_a_screen_that_reaches_the_target_is_confirmed_on_fresh_episodes_that_decide(tmp_path):
    settings = dict(SETTINGS, eval_confirm_episodes=6, target_return=-1.0)
    with keras_pg.REINFORCE("CartPole-v1", run_dir=tmp_path, tensorboard=False,
                            **settings) as agent:
        summary = agent.learn()
        screen, confirmation = RunDir(tmp_path).evals()
        again = agent.evaluate(6, seed=derived_seed(3, EVAL_STREAM, 2))
    assert (screen.episodes, confirmation.episodes) == (4, 6)
    assert (screen.update, screen.env_steps) == (confirmation.update, confirmation.env_steps)
    assert confirmation.mean_return == again["mean_return"]  # evaluation 2's own seeds
    assert summary["stop_reason"] == "solved" and summary["evaluations"] == 2
    assert summary["last_eval_return"] == confirmation.mean_return


def test_a_confirmation_below_the_target_keeps_training(monkeypatch, tmp_path):
    """Screens score 100 and confirmations 10 against a target of 50: every due evaluation
    is a screen and its confirmation, and the run trains to the budget unsolved."""
    def scripted(model, source, episodes, seed, actor):
        score = 100.0 if episodes == 4 else 10.0
        return Evaluation(score, 0.0, episodes, np.full(episodes, score))

    monkeypatch.setattr("keras_pg.agent.evaluate_policy", scripted)
    with keras_pg.REINFORCE("CartPole-v1", run_dir=tmp_path, tensorboard=False, **SETTINGS,
                            eval_confirm_episodes=6, target_return=50.0) as agent:
        summary = agent.learn()
    rows = RunDir(tmp_path).evals()
    assert [(row.evaluation, row.episodes, row.mean_return) for row in rows] == [
        (1, 4, 100.0), (2, 6, 10.0), (3, 4, 100.0), (4, 6, 10.0), (5, 4, 100.0), (6, 6, 10.0)]
    assert summary["stop_reason"] == "max_steps" and not summary["solved"]
    assert summary["last_eval_return"] == 10.0


@pytest.mark.parametrize("margin,rows,stop_reason", [
    (10.0, [(1, 4, 45.0), (2, 6, 60.0)], "solved"),
    (4.0, [(1, 4, 45.0), (2, 4, 45.0), (3, 4, 45.0)], "max_steps"),
])
def test_a_screen_within_the_margin_below_the_target_is_confirmed(monkeypatch, tmp_path, margin,
                                                                  rows, stop_reason):
    """Screens score 45 and confirmations 60 against a target of 50: a margin of 10 confirms
    the first screen and the confirmation solves; a margin of 4 confirms none."""
    def scripted(model, source, episodes, seed, actor):
        score = 45.0 if episodes == 4 else 60.0
        return Evaluation(score, 0.0, episodes, np.full(episodes, score))

    monkeypatch.setattr("keras_pg.agent.evaluate_policy", scripted)
    with keras_pg.REINFORCE("CartPole-v1", run_dir=tmp_path, tensorboard=False, **SETTINGS,
                            eval_confirm_episodes=6, eval_screen_margin=margin,
                            target_return=50.0) as agent:
        summary = agent.learn()
    assert [(row.evaluation, row.episodes, row.mean_return)
            for row in RunDir(tmp_path).evals()] == rows
    assert summary["stop_reason"] == stop_reason


def test_a_target_no_evaluation_reaches_trains_to_the_budget():
    with keras_pg.REINFORCE("CartPole-v1", **SETTINGS, target_return=1e6) as agent:
        summary = agent.learn()
    assert summary["stop_reason"] == "max_steps" and not summary["solved"]
    assert summary["evaluations"] == 3


def test_evaluations_resume_exactly(tmp_path):
    whole, part = tmp_path / "whole", tmp_path / "part"
    flags = ["train", "--quiet", "--preset", "none", "--max-steps", "6000", "--eval-every",
             "2000", "--eval-every-episodes", "4", "--eval-episodes", "0", "--seed", "3",
             "--no-tensorboard"]
    assert main([*flags, "--run-dir", str(whole)]) == 0
    agent = keras_pg.REINFORCE("CartPole-v1", run_dir=part, tensorboard=False, **SETTINGS)
    agent.learn(2500)
    agent.save()
    agent.close()
    assert main(["train", "--quiet", "--resume", str(part)]) == 0
    expected = [row[:-1] for row in RunDir(whole).evals()]  # all but the seconds
    assert [row[:-1] for row in RunDir(part).evals()] == expected
    assert len(expected) == 3


def test_metrics_written_for_a_checkpoint_drop_evaluations_it_does_not_cover(tmp_path):
    run = RunDir(tmp_path)
    run.write_metrics([], [], [EvalRow(1, 3, 2048, 40.0, 2.0, 4, 0.01)])
    assert len(run.evals()) == 1
    run.write_metrics([], [], [])  # a resume from a checkpoint before that evaluation
    assert run.evals() == []


@pytest.mark.parametrize("settings,message", [
    ({"eval_every": -1}, "eval_every must be 0 or a positive integer, got -1"),
    ({"eval_every_episodes": 0}, "eval_every_episodes must be a positive integer, got 0"),
    ({"eval_confirm_episodes": 100},
     "eval_confirm_episodes confirms evaluations during training: set eval_every too"),
    ({"eval_every": 1000, "eval_screen_margin": 5.0},
     "eval_screen_margin widens the screen of confirmed evaluations: set "
     "eval_confirm_episodes too"),
    ({"eval_every": 1000, "eval_confirm_episodes": 100, "eval_screen_margin": -1.0},
     "eval_screen_margin must be 0 or a positive number, got -1.0"),
])
def test_bad_evaluation_settings_are_one_line_errors(settings, message):
    with pytest.raises(ConfigError) as error:
        keras_pg.REINFORCE("CartPole-v1", preset="none", **settings)
    assert str(error.value) == message
