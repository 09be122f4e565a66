"""Schedules of lr and entropy_coef over training progress: parsing, config.json, the values
each update gets (both backends), TensorBoard, and an exact resume."""

import json

import numpy as np
import pytest

import keras_pg
from keras_pg.cli import main
from keras_pg.config import Config, ConfigError
from keras_pg.schedules import make_schedule


def halving(progress: float) -> float:
    """An lr that halves over training, importable as tests.test_schedules:halving."""
    return 0.02 * 0.5 ** progress


def test_numbers_are_constant_and_start_end_text_is_linear_over_progress():
    assert [make_schedule(0.5, "lr")(p) for p in (0, 0.3, 1)] == [0.5, 0.5, 0.5]
    linear = make_schedule("0.01:0.001", "lr")
    np.testing.assert_allclose([linear(p) for p in (0, 0.5, 1, 1.5)],
                               [0.01, 0.0055, 0.001, 0.001])
    assert make_schedule("tests.test_schedules:halving", "lr") is halving


def test_a_function_is_saved_by_its_import_name_and_comes_back():
    config = Config(lr=halving, entropy_coef="0.02:0")
    assert config.to_dict()["lr"] == "tests.test_schedules:halving"
    assert config.to_dict()["entropy_coef"] == "0.02:0"
    assert Config.from_dict(json.loads(json.dumps(config.to_dict()))) == config


@pytest.mark.parametrize("settings,message", [
    ({"lr": lambda p: 0.01}, "lr: a schedule function must be importable by its name"),
    ({"lr": "0.01:0"}, "lr must be > 0 at every progress in [0, 1]; '0.01:0' gives 0.0 at 1.0"),
    ({"lr": "fast"}, "lr must be a number, START:END (e.g. 0.01:0.001) or module:function, "
                     "got 'fast'"),
    ({"lr": "tests.test_schedules:missing"}, "lr schedule 'tests.test_schedules:missing' "
                                             "cannot be imported"),
    ({"entropy_coef": "0:-0.1"}, "entropy_coef must be >= 0 at every progress"),
    ({"entropy_coef": -1.0}, "entropy_coef must be >= 0, got -1.0"),
    ({"lr": True}, "lr must be a number, START:END or a function of progress, got True"),
])
def test_bad_schedules_are_one_line_errors(settings, message):
    with pytest.raises(ConfigError) as info:
        Config(**settings)
    assert message in str(info.value) and "\n" not in str(info.value)


def recorded(agent_kwargs):
    """The lr and entropy_coef each update's logs report, with the env steps before it."""
    import keras

    seen = []
    agent = keras_pg.REINFORCE("CartPole-v1", preset="none", max_steps=4_000, eval_episodes=0,
                               tensorboard=False, seed=1, **agent_kwargs)
    before = [0]
    log = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: (
        seen.append((before[-1], logs["lr"], logs["entropy_coef"])),
        before.append(logs["env_steps"])))
    agent.learn(callbacks=[log])
    return agent, seen


@pytest.mark.parametrize("backend", ["gym", "graph"])
def test_each_update_gets_the_value_for_the_progress_before_its_round(backend):
    agent, seen = recorded({"lr": "0.02:0.002", "entropy_coef": "0.1:0", "backend": backend,
                            "num_envs": 8, "episodes_per_update": 8})
    assert len(seen) >= 3
    for steps, lr, entropy_coef in seen:
        progress = min(steps / 4_000, 1.0)
        assert lr == pytest.approx(0.02 - 0.018 * progress)
        assert entropy_coef == pytest.approx(0.1 - 0.1 * progress)
    optimizer = agent._trainer.learner.optimizers[0]
    assert float(optimizer.learning_rate) == pytest.approx(seen[-1][1])


def test_the_compiled_graph_iteration_reads_the_scheduled_entropy_coef():
    """The same seed, entropy_coef constant 0 or rising from 0: the first update (progress 0)
    is the same, later ones differ, so the iteration did not freeze the traced value."""
    weights = []
    for entropy_coef in (0.0, "0:5"):
        agent = keras_pg.REINFORCE("CartPole-v1", preset="none", backend="graph", num_envs=8,
                                   episodes_per_update=8, entropy_coef=entropy_coef,
                                   max_steps=4_000, eval_episodes=0, tensorboard=False, seed=2)
        agent.learn(1)  # one round
        first = agent.model.get_weights()
        agent.learn(agent.progress.env_steps)  # one more
        assert agent.progress.updates == 2
        weights.append((first, agent.model.get_weights()))
    (first_a, second_a), (first_b, second_b) = weights
    for a, b in zip(first_a, first_b, strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.allclose(a, b) for a, b in zip(second_a, second_b, strict=True))


def test_cli_schedule_is_saved_shown_in_tensorboard_and_resumes_exactly(tmp_path):
    flags = ["train", "--quiet", "--preset", "none", "--max-steps", "6000", "--eval-episodes",
             "0", "--lr", "0.02:0.001", "--entropy-coef", "0.05:0", "--seed", "4"]
    whole, part = tmp_path / "whole", tmp_path / "part"
    assert main([*flags, "--run-dir", str(whole)]) == 0
    config = json.loads((whole / "config.json").read_text())
    assert (config["lr"], config["entropy_coef"]) == ("0.02:0.001", "0.05:0")

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(whole / "tb")).Reload()
    lrs = [tensor_value(e) for e in events.Tensors("schedule/lr")]
    assert lrs[0] == pytest.approx(0.02) and lrs[-1] < lrs[0]

    agent = keras_pg.REINFORCE("CartPole-v1", preset="none", max_steps=6000, eval_episodes=0,
                               lr="0.02:0.001", entropy_coef="0.05:0", seed=4, run_dir=part,
                               tensorboard=False)
    agent.learn(2500)
    agent.save()
    agent.close()
    assert main(["train", "--quiet", "--resume", str(part)]) == 0
    rows = [line.split(",")[:4] for line in (part / "metrics.csv").read_text().splitlines()]
    expected = [line.split(",")[:4] for line in (whole / "metrics.csv").read_text().splitlines()]
    assert rows == expected


def tensor_value(event) -> float:
    import tensorflow as tf

    return float(tf.make_ndarray(event.tensor_proto))
