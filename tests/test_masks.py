"""Invalid-action masks in training: the masked distribution's math, where masks come from,
what a bad mask does, and that a masked policy learns what an unmasked one does not.

The math is checked against hand-computed values on fixed logits; the env is
tests/masked_env.py's Corridor-v0, where 2 of 8 actions are legal in every cell.
"""

import json
import re

import gymnasium as gym
import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_pg
from keras_pg.algorithm.update import UpdateStep
from keras_pg.cli import main
from keras_pg.config import ConfigError
from keras_pg.envs.masks import ActionMaskError, check_masks
from keras_pg.policy import CategoricalHead, make_actor, make_head
from keras_pg.policy.heads import MultiCategoricalHead, masked_logits
from keras_pg.run import RunDir
from tests.masked_env import BACK, FORWARD
from tests.policies import mlp_policy

CORRIDOR = "tests.masked_env:Corridor-v0"
LOGITS = np.array([[1.0, 2.0, 3.0, 4.0]], np.float32)
MASK = np.array([[True, False, True, False]])


def test_masked_probabilities_log_prob_and_entropy_are_over_the_legal_actions():
    head, logits = CategoricalHead(4), masked_logits(tf.constant(LOGITS), MASK)
    # Legal: logits 1 and 3 -> p = (1, e^2) / (1 + e^2) on actions 0 and 2, 0 elsewhere.
    p2 = np.exp(2.0) / (1.0 + np.exp(2.0))
    np.testing.assert_allclose(head.probs(logits).numpy(), [[1 - p2, 0.0, p2, 0.0]], atol=1e-7)
    assert head.probs(logits).numpy()[0, [1, 3]].tolist() == [0.0, 0.0]  # exactly 0
    np.testing.assert_allclose(head.log_prob(logits, tf.constant([2])).numpy(), [np.log(p2)],
                               rtol=1e-6)
    entropy = -(p2 * np.log(p2) + (1 - p2) * np.log(1 - p2))
    np.testing.assert_allclose(head.entropy(logits).numpy(), [entropy], rtol=1e-6)


def test_the_gradient_reaches_only_legal_logits_and_is_finite_with_one_legal_action():
    head, variable = CategoricalHead(4), tf.Variable(LOGITS)
    with tf.GradientTape(persistent=True) as tape:
        logits = masked_logits(variable, MASK)
        log_prob, entropy = head.log_prob(logits, tf.constant([2])), head.entropy(logits)
    p2 = np.exp(2.0) / (1.0 + np.exp(2.0))
    # d log pi(2) / d l = onehot(2) - p over the legal actions; 0 for the illegal ones.
    np.testing.assert_allclose(tape.gradient(log_prob, variable).numpy(),
                               [[-(1 - p2), 0.0, 1 - p2, 0.0]], atol=1e-6)
    # dH/dl_k = -p_k (log p_k + H) on the legal ones.
    h = float(entropy.numpy()[0])
    expected = [-(1 - p2) * (np.log(1 - p2) + h), 0.0, -p2 * (np.log(p2) + h), 0.0]
    np.testing.assert_allclose(tape.gradient(entropy, variable).numpy(), [expected], atol=1e-6)
    one_legal = np.array([[False, False, True, False]])
    with tf.GradientTape(persistent=True) as tape:
        logits = masked_logits(variable, one_legal)
        loss = -head.log_prob(logits, tf.constant([2])) - head.entropy(logits)
    gradient = tape.gradient(loss, variable).numpy()
    assert np.isfinite(gradient).all() and (gradient == 0).all()
    assert float(head.entropy(logits)[0]) == 0.0
    assert head.probs(logits).numpy().tolist() == [[0.0, 0.0, 1.0, 0.0]]


def test_a_multi_discrete_mask_applies_per_branch():
    head = MultiCategoricalHead((3, 2))
    logits = masked_logits(tf.constant([[0.0, 1.0, 2.0, 5.0, 0.0]]),
                           np.array([[True, True, False, False, True]]))
    e = np.exp(1.0) / (1 + np.exp(1.0))
    np.testing.assert_allclose(head.probs(logits).numpy(), [[1 - e, e, 0.0, 0.0, 1.0]],
                               atol=1e-7)
    assert head.greedy(logits).numpy().tolist() == [[1, 1]]  # 2 and 0 were likelier, but masked
    np.testing.assert_allclose(head.entropy(logits).numpy(),
                               [-(e * np.log(e) + (1 - e) * np.log(1 - e))], rtol=1e-6)


def test_the_masked_update_moves_only_the_legal_logits_by_the_reinforce_gradient():
    model = mlp_policy(gym.spaces.Box(-np.inf, np.inf, (1,)), gym.spaces.Discrete(4), (4,))
    bias = np.array([0.3, -0.2, 0.5, 0.1], np.float32)
    model.get_layer("logits").bias.assign(bias)
    step = UpdateStep(model, CategoricalHead(4), keras.optimizers.SGD(learning_rate=1.0),
                      masked=True)
    masks = np.array([[1, 0, 1, 1], [0, 1, 1, 0], [1, 1, 0, 0]], bool)
    actions = np.array([2, 1, 0], np.int32)
    advantages = np.array([1.0, -0.5, 2.0], np.float32)
    step(np.zeros((3, 1), np.float32), actions, advantages, masks=masks)
    pi = np.where(masks, np.exp(bias), 0.0)
    pi /= pi.sum(axis=1, keepdims=True)
    grad = -np.mean(advantages[:, None] * (np.eye(4)[actions] - pi), axis=0)
    np.testing.assert_allclose(model.get_layer("logits").bias.numpy(), bias - grad, atol=1e-6)


@pytest.mark.parametrize("actor", ["numpy", "tensorflow"])
def test_actors_never_pick_a_masked_action(actor):
    model = mlp_policy(gym.spaces.Box(-1, 1, (3,)), gym.spaces.Discrete(6), (8,))
    rng = np.random.default_rng(0)
    obs = rng.uniform(-1, 1, (5000, 3)).astype(np.float32)
    masks = rng.random((5000, 6)) < 0.3
    masks[np.arange(5000), rng.integers(0, 6, 5000)] = True
    for greedy in (False, True):
        with make_actor(model, make_head(gym.spaces.Discrete(6)), actor, greedy=greedy,
                        masked=True).round(0) as act:
            actions = np.concatenate([act(obs, np.zeros(5000, bool), masks) for _ in range(4)])
        assert masks[np.arange(20_000) % 5000, actions].all()


def test_check_masks_names_the_env_row_and_step_of_a_bad_value_or_an_empty_row():
    where = lambda row: f"env X (env {row} of 2), step 7 of this round"  # noqa: E731
    with pytest.raises(ActionMaskError, match=r"^env X \(env 1 of 2\), step 7 of this round: "
                                              r"action mask holds 2; expected bool, int8 or "
                                              r"uint8 0/1 of shape \(3,\)"):
        check_masks(np.array([[1, 0, 1], [1, 2, 0]], np.int8), (3,), np.ones(2, bool), where)
    empty = np.array([[1, 0, 0, 0, 1], [1, 0, 0, 0, 0]], bool)
    with pytest.raises(ActionMaskError, match=r"^env X \(env 1 of 2\).*allows no action in "
                                              r"branch 1; expected at least one 1 per branch"):
        check_masks(empty, (3, 2), np.ones(2, bool), where)
    # A state an episode ended in needs no legal action (nothing is done in it).
    assert check_masks(empty, (3, 2), np.array([True, False]), where).dtype == bool


def legal(cells: np.ndarray, actions: np.ndarray) -> np.ndarray:
    return (actions == np.take(FORWARD, cells)) | (actions == np.take(BACK, cells))


@pytest.mark.parametrize("source, settings", [
    ("info", {}),
    ("method", {"env_kwargs": {"source": "method"}}),
    ("observation", {"env_kwargs": {"source": "observation"}}),
    ("function", {"env_kwargs": {"source": "none"},
                  "action_mask_fn": "tests.masked_env:corridor_mask"}),
])
def test_each_mask_source_is_found_and_its_masks_ride_with_the_rollout(source, settings,
                                                                       tmp_path):
    agent = keras_pg.REINFORCE(CORRIDOR, run_dir=tmp_path / "run", seed=0, eval_episodes=0,
                               **settings)
    assert agent.env_source.mask_source == source
    assert agent.observation_space == (gym.spaces.Dict({"cell": gym.spaces.Discrete(6)})
                                       if source == "observation" else gym.spaces.Discrete(6))
    batch = agent.backend.collect(0, lambda: False).batch
    cells = batch.obs["cell"] if source == "observation" else batch.obs
    assert batch.action_masks is not None and batch.action_masks.shape == (len(cells), 8)
    assert batch.action_masks.sum(axis=1).tolist() == [2] * len(cells)
    assert legal(cells.astype(int), batch.actions).all()  # sampled under the masks
    spaces = json.loads(RunDir(tmp_path / "run").file("spaces.json").read_text())
    assert spaces["action_mask"] == {"source": source}
    agent.close()


def test_without_masks_or_with_action_masks_off_the_rollout_carries_none():
    for settings in ({"env_kwargs": {"source": "none"}}, {"action_masks": False}):
        with keras_pg.REINFORCE(CORRIDOR, seed=0, eval_episodes=0, **settings) as agent:
            assert agent.env_source.mask_source is None
            batch = agent.backend.collect(0, lambda: False).batch
            assert batch.action_masks is None and not legal(batch.obs.astype(int),
                                                            batch.actions).all()


def test_with_masks_corridor_is_learned_in_seconds_and_without_it_is_not():
    results = {}
    for masks in (True, False):
        with keras_pg.REINFORCE(CORRIDOR, seed=0, eval_episodes=100,
                                action_masks=masks) as agent:
            results[masks] = agent.learn(max_steps=6000)["eval_mean_return"]
    # Optimal is about 0.97 (a few steps at -0.01, then +1); illegal moves cost 0.1 each.
    assert results[True] >= 0.95 and results[False] < 0.5, results


def test_a_masked_run_resumes_exactly(tmp_path):
    settings = dict(seed=3, eval_episodes=0, max_steps=3000, env_kwargs={"branches": True})
    whole, part = tmp_path / "whole", tmp_path / "part"
    with keras_pg.REINFORCE(CORRIDOR, run_dir=whole, **settings) as agent:
        agent.learn()
    with keras_pg.REINFORCE(CORRIDOR, run_dir=part, **settings) as agent:
        agent.learn(1200)
        agent.save()
    assert main(["train", "--quiet", "--resume", str(part)]) == 0
    assert len(RunDir(whole).updates()) >= 10 and [repr(row[:-1]) for row in RunDir(
        part).updates()] == [repr(row[:-1]) for row in RunDir(whole).updates()]


@pytest.mark.parametrize("bad, message", [
    ("shape", r"action mask of shape \(7,\); expected bool, int8 or uint8 0/1 of shape \(8,\)"),
    ("dtype", r"action mask of dtype float32; expected bool, int8 or uint8 0/1"),
])
def test_a_mask_of_the_wrong_shape_or_dtype_is_refused_before_training(bad, message):
    with pytest.raises(ConfigError, match=rf"^env {CORRIDOR}, step 0 of an episode: {message}"):
        keras_pg.REINFORCE(CORRIDOR, env_kwargs={"bad": bad})


@pytest.mark.parametrize("bad, message", [
    ("values", r"\(env \d+ of 16\), step \d+ of this round: action mask holds 2; expected"),
    ("empty", r"\(env \d+ of 16\), step \d+ of this round: the action mask allows no action; "
              r"expected at least one 1"),
])
def test_a_mask_with_a_bad_value_or_no_legal_action_stops_training_in_one_line(
        bad, message, tmp_path, capsys):
    code = main(["train", "--quiet", "--env", CORRIDOR, "--env-kwargs", json.dumps({"bad": bad}),
                 "--max-steps", "2000", "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code != 0 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"error: env {CORRIDOR} ") and re.search(message, err)


def test_an_env_that_stops_giving_masks_is_one_line():
    with pytest.raises((ConfigError, ActionMaskError),
                       match=rf"^env {CORRIDOR}, step \d+ of an episode: no action mask in the "
                             r"info dict \(info\['action_mask'\]\); expected one after every "
                             r"reset and step$"):
        agent = keras_pg.REINFORCE(CORRIDOR, env_kwargs={"bad": "missing"}, seed=0)
        agent.learn(max_steps=2000)


def test_masks_on_actions_they_cannot_apply_to_and_bad_mask_functions_are_one_line():
    with pytest.raises(ConfigError, match=r"offers action masks \(function\), but its action "
                                          r"space Box.*takes none"):
        keras_pg.REINFORCE("Pendulum-v1", action_mask_fn="tests.masked_env:corridor_mask")
    with pytest.raises(ConfigError, match=r"^cannot import action_mask_fn "
                                          r"'tests.masked_env:nothing': AttributeError"):
        keras_pg.REINFORCE(CORRIDOR, action_mask_fn="tests.masked_env:nothing")
    with pytest.raises(ConfigError, match=r"^action_mask_fn must be importable by its name"):
        keras_pg.REINFORCE(CORRIDOR, action_mask_fn=lambda env: np.ones(8, bool))
    with pytest.raises(ConfigError, match=r"^action_mask_fn masks the actions of gym and ray"):
        keras_pg.REINFORCE("CartPole-v1", backend="graph",
                           action_mask_fn="tests.masked_env:corridor_mask")


def test_predict_never_returns_a_masked_action_and_refuses_a_bad_mask_in_one_line():
    with keras_pg.REINFORCE(CORRIDOR, seed=0, eval_episodes=0) as agent:  # untrained
        rng = np.random.default_rng(1)
        cells = rng.integers(0, 6, 2000)
        masks = rng.random((2000, 8)) < 0.25
        masks[np.arange(2000), rng.integers(0, 8, 2000)] = True
        for deterministic in (True, False):
            actions = agent.predict(cells, deterministic=deterministic, action_mask=masks)
            assert masks[np.arange(2000), actions].all()
        assert agent.predict(2, action_mask=[0, 0, 0, 1, 0, 0, 0, 0]) == 3
        with pytest.raises(ValueError, match=r"^action_mask must be true/false or 0/1 of shape "
                                             r"\[8\] for one observation; got shape \[7\]$"):
            agent.predict(2, action_mask=np.ones(7, bool))
        with pytest.raises(ValueError, match=r"^action_mask allows no action in row 0"):
            agent.predict(2, action_mask=np.zeros(8, bool))
    with keras_pg.REINFORCE("Pendulum-v1", seed=0) as agent, pytest.raises(
            ValueError, match=r"^this policy takes no action_mask: a gaussian policy's"):
        agent.predict(np.zeros(3, np.float32), action_mask=[1])
